"""Alembic environment of the `console` schema."""

from services.console.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
