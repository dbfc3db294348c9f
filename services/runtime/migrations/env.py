"""Alembic environment of the shared `auth` schema (API keys)."""

from services.runtime.auth import metadata
from services.runtime.migrate import run_env

run_env(metadata)
