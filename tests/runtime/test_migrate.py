"""Migrations: one schema and one version table per service; running them again changes nothing."""

from __future__ import annotations

import asyncio

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from services.runtime import auth
from services.runtime.migrate import alembic_config
from services.runtime.settings import EngineSettings

SCHEMAS = {auth.AUTH_SCHEMA: stack.RUNTIME_MIGRATIONS} | {
    spec.schema: spec.migrations for spec in stack.SERVICES.values()
}


async def catalogue(db: AsyncEngine) -> dict[str, set[str]]:
    """Every table of ours, by schema."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 't\\_%'"
            )
        )
        tables: dict[str, set[str]] = {}
        for schema, table in rows:
            tables.setdefault(schema, set()).add(table)
    return tables


async def versions(db: AsyncEngine) -> dict[str, list[str]]:
    """The revision(s) each schema's own version table records."""
    async with db.connect() as conn:
        return {
            schema: list((await conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version"))).scalars())
            for schema in SCHEMAS
        }


async def test_each_service_has_its_own_schema_and_version_table_at_head(
    db: AsyncEngine, engines: EngineSettings
) -> None:
    tables = await catalogue(db)
    assert "public" not in tables  # nothing of ours outside the services' own schemas
    url = engines.database_url.get_secret_value()
    for schema, migrations in SCHEMAS.items():
        assert "alembic_version" in tables[schema], schema
        head = ScriptDirectory.from_config(alembic_config(migrations, database_url=url, schema=schema)).get_heads()
        assert (await versions(db))[schema] == head, schema
    for spec in stack.SERVICES.values():
        assert {"outbox", "inbox"} <= tables[spec.schema], spec.name
        declared = {t.name for t in spec.outbox.metadata.sorted_tables}
        assert declared <= tables[spec.schema], (spec.name, declared - tables[spec.schema])
    assert "api_keys" in tables[auth.AUTH_SCHEMA]


async def test_migrating_an_up_to_date_database_again_changes_nothing(db: AsyncEngine, engines: EngineSettings) -> None:
    before_tables, before_versions = await catalogue(db), await versions(db)
    async with db.connect() as conn:
        keys_before = await conn.scalar(text("SELECT count(*) FROM auth.api_keys"))

    # In a thread: Alembic runs its own event loop, as it does when `crimerec` migrates at start.
    await asyncio.to_thread(stack.migrate_all, engines.database_url.get_secret_value())

    assert await catalogue(db) == before_tables
    assert await versions(db) == before_versions
    async with db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM auth.api_keys")) == keys_before
