"""The connection pool: a connection the server closed is replaced before anyone uses it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.database import create_engine, create_session_factory, insert_rows
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    engines: EngineSettings, db: AsyncEngine
) -> None:
    engine = create_engine(engines.model_copy(update={"database_pool_size": 1}))
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(select(func.pg_backend_pid()))
        # The server ends the pooled connection (as a restart or an idle timeout would).
        async with db.connect() as admin:
            assert await admin.scalar(select(func.pg_terminate_backend(first)))
        await asyncio.sleep(0.5)  # the event loop reads the closed socket

        async with engine.connect() as conn:
            second = await conn.scalar(select(func.pg_backend_pid()))
        assert second != first
    finally:
        await engine.dispose()


async def test_insert_rows_stores_every_kind_of_column_as_given_in_order(db: AsyncEngine, scratch: Scratch) -> None:
    metadata = MetaData(schema=scratch.schema)
    table = Table(
        "insert_rows",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("ref", Uuid, nullable=False),
        Column("label", String(40)),
        Column("tags", ARRAY(String(20)), nullable=False),
        Column("detail", JSONB, nullable=False),
        Column("extra", JSONB),
        Column("blob", LargeBinary),
        Column("flag", Boolean, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    async with db.begin() as conn:
        await conn.run_sync(metadata.create_all)
    now = datetime.now(UTC)
    rows = [
        {
            "ref": uuid.uuid4(),
            "label": None if i == 1 else f"row {i}",
            "tags": ['a "quoted" tag', "back\\slash", "comma, brace}{", ""] if i == 0 else [f"t{i}"],
            "detail": {"n": i, "nested": [1, None, "x"], "text": 'say "hi"\\'},
            "extra": None if i % 2 else [i],
            "blob": None if i == 2 else bytes([i, 0, 255]),
            "flag": i % 2 == 0,
            "at": now + timedelta(seconds=i),
        }
        for i in range(50)
    ]
    async with create_session_factory(db)() as session, session.begin():
        await insert_rows(session, table, rows)
    async with db.connect() as conn:
        stored = (await conn.execute(select(table).order_by(table.c.id))).all()
    assert [{k: getattr(row, k) for k in rows[0]} for row in stored] == rows  # ids follow the given order
    async with db.connect() as conn:
        # None in a JSON column is JSON null, as SQLAlchemy's JSON type stores it, not SQL NULL.
        kinds = await conn.scalars(select(func.jsonb_typeof(table.c.extra)).order_by(table.c.id))
        assert list(kinds) == ["null" if i % 2 else "array" for i in range(50)]


async def test_insert_rows_refuses_a_value_too_long_for_its_column_and_stores_nothing(
    db: AsyncEngine, scratch: Scratch
) -> None:
    metadata = MetaData(schema=scratch.schema)
    table = Table(
        "insert_rows_bounded",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("label", String(5), nullable=False),
        Column("tags", ARRAY(String(3)), nullable=False),
    )
    async with db.begin() as conn:
        await conn.run_sync(metadata.create_all)
    for rows in (
        [{"label": "fits", "tags": ["ok"]}, {"label": "too long", "tags": ["ok"]}],
        [{"label": "fits", "tags": ["ok"]}, {"label": "fits", "tags": ["long"]}],
    ):
        with pytest.raises(asyncpg.StringDataRightTruncationError, match="value too long"):
            async with create_session_factory(db)() as session, session.begin():
                await insert_rows(session, table, rows)
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(table)) == 0
