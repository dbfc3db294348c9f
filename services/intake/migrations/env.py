"""Alembic environment of the `intake` schema."""

from services.intake.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
