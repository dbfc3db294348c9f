"""Alembic migrations, one PostgreSQL schema (and one version table) per service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, *, database_url: str, schema: str) -> Config:
    """The Alembic configuration of one service's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    return config


def upgrade(migrations_dir: Path, *, database_url: str, schema: str) -> None:
    """Brings one service's schema to its newest revision (safe to run again)."""
    command.upgrade(alembic_config(migrations_dir, database_url=database_url, schema=schema), "head")


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's `env.py`: migrate its own schema, keep its version table there."""
    config = context.config
    schema: str = config.attributes["schema"]
    url: str = config.attributes["database_url"]

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as conn:
                # Two processes migrating at once take turns instead of racing on CREATE SCHEMA.
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate.{schema}"})
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())
