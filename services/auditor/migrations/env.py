"""Alembic environment of the `auditor` schema."""

from services.auditor.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
