"""Alembic environment of the `recorder` schema."""

from services.recorder.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
