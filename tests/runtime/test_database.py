"""The connection pool (a connection the server closed is replaced before anyone uses it) and insert_rows."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
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


def _every_kind_table(schema: str, name: str) -> Table:
    return Table(
        name,
        MetaData(schema=schema),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("ref", Uuid, nullable=False, unique=True),
        Column("label", String(40)),
        Column("tags", ARRAY(String(20)), nullable=False),
        Column("detail", JSONB, nullable=False),
        Column("extra", JSONB),
        Column("blob", LargeBinary),
        Column("flag", Boolean, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )


def _varied_rows(now: datetime) -> list[dict[str, Any]]:
    return [
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


def _shared_rows(now: datetime, shared: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows that differ in `ref` only: every other column goes once, as a single parameter."""
    return [{"ref": uuid.uuid4(), **shared} for _ in range(20)]


async def _created(db: AsyncEngine, table: Table) -> Table:
    async with db.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    return table


async def _stored(db: AsyncEngine, table: Table, names: Iterable[str]) -> list[dict[str, Any]]:
    """The table's rows in id order (the order they were inserted in), as dicts of these columns."""
    async with db.connect() as conn:
        stored = (await conn.execute(select(table).order_by(table.c.id))).all()
    return [{name: getattr(row, name) for name in names} for row in stored]


ROWS: dict[str, Callable[[datetime], list[dict[str, Any]]]] = {
    "every column varies": _varied_rows,
    "columns every row shares": lambda now: _shared_rows(
        now,
        {
            "label": 'a "label", {braced}',
            "tags": ['a "quoted" tag', "back\\slash", ""],
            "detail": {"nested": [1, None, "x"], "text": 'say "hi"\\'},
            "extra": [1],
            "blob": bytes([0, 255]),
            "flag": True,
            "at": now,
        },
    ),
    "nulls every row shares": lambda now: _shared_rows(
        now, {"label": None, "tags": [], "detail": {}, "extra": None, "blob": None, "flag": False, "at": now}
    ),
    "one row": lambda now: _varied_rows(now)[:1],
    "the same time in other zones": lambda now: [
        {**row, "at": now.astimezone(timezone(timedelta(hours=i)))} for i, row in enumerate(_varied_rows(now)[:3])
    ],
}


@pytest.mark.parametrize("rows_of", ROWS.values(), ids=ROWS.keys())
async def test_insert_rows_stores_every_kind_of_column_as_given_in_order(
    db: AsyncEngine, scratch: Scratch, rows_of: Callable[[datetime], list[dict[str, Any]]]
) -> None:
    table = await _created(db, _every_kind_table(scratch.schema, "insert_rows"))
    rows = rows_of(datetime.now(UTC))
    async with create_session_factory(db)() as session, session.begin():
        assert await insert_rows(session, table, rows) == []
    assert await _stored(db, table, rows[0]) == rows  # ids follow the given order
    async with db.connect() as conn:
        # None in a JSON column is JSON null, as SQLAlchemy's JSON type stores it, not SQL NULL.
        kinds = await conn.scalars(select(func.jsonb_typeof(table.c.extra)).order_by(table.c.id))
        assert list(kinds) == ["null" if row["extra"] is None else "array" for row in rows]


async def test_insert_rows_can_skip_rows_already_there_and_return_those_it_added(
    db: AsyncEngine, scratch: Scratch
) -> None:
    table = await _created(db, _every_kind_table(scratch.schema, "insert_rows_skip"))
    rows = _varied_rows(datetime.now(UTC))
    sessions = create_session_factory(db)
    async with sessions() as session, session.begin():
        assert await insert_rows(session, table, rows[:30], skip_existing=True, returning="ref") == [
            row["ref"] for row in rows[:30]
        ]
    async with sessions() as session, session.begin():
        # 20 to 29 again (changed, which is not stored), then 30 onwards for the first time, 40 twice in the run
        again = [{**row, "label": "changed"} for row in rows[20:]]
        added = await insert_rows(
            session, table, [*again, {**again[20], "label": "twice"}], skip_existing=True, returning="ref"
        )
    assert added == [row["ref"] for row in rows[30:]]
    assert await _stored(db, table, rows[0]) == rows[:30] + again[10:]


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
        # the same in every row (of enough rows to be shared): sent once, and refused all the same
        [{"tags": ["ok"], "label": "too long"}] * 16,
        [{"label": "fits", "tags": ["long"]}] * 16,
    ):
        with pytest.raises(DBAPIError, match="value too long"):
            async with create_session_factory(db)() as session, session.begin():
                await insert_rows(session, table, rows)
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(table)) == 0


async def test_insert_rows_as_the_first_statement_of_a_transaction_is_rolled_back_with_it(
    db: AsyncEngine, scratch: Scratch
) -> None:
    # SQLAlchemy begins a transaction on the server only with its first statement: rows sent past it, on the
    # driver's own connection, would be committed on their own and survive the rollback.
    table = await _created(db, _every_kind_table(scratch.schema, "insert_rows_rollback"))
    with pytest.raises(RuntimeError, match="after the insert"):
        async with create_session_factory(db)() as session, session.begin():
            await insert_rows(session, table, _varied_rows(datetime.now(UTC)))
            raise RuntimeError("after the insert")
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(table)) == 0


async def test_insert_rows_shares_a_value_only_where_equal_values_are_stored_alike(
    db: AsyncEngine, scratch: Scratch
) -> None:
    # Equal in Python, different in the database: each row keeps its own. `n` comes first, as the column that always
    # goes as an array; the others would be shared if equal were enough.
    table = await _created(
        db,
        Table(
            "insert_rows_equal",
            MetaData(schema=scratch.schema),
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("n", BigInteger, nullable=False),
            Column("amount", Numeric, nullable=False),  # no scale: 1.0 and 1.00 stay as given
            Column("ratio", Float, nullable=False),
            Column("at", Time(timezone=True), nullable=False),
        ),
    )
    rows = [
        {
            "n": i,
            "amount": Decimal("1.0") if i % 2 else Decimal("1.00"),
            "ratio": -0.0 if i % 2 else 0.0,
            "at": time(13, tzinfo=timezone(timedelta(hours=1))) if i % 2 else time(12, tzinfo=UTC),
        }
        for i in range(20)
    ]
    async with create_session_factory(db)() as session, session.begin():
        await insert_rows(session, table, rows)

    def as_stored(row: dict[str, Any]) -> tuple[str, float, timedelta | None]:
        return str(row["amount"]), math.copysign(1, row["ratio"]), row["at"].utcoffset()

    assert [as_stored(row) for row in await _stored(db, table, rows[0])] == [as_stored(row) for row in rows]
    # True == 1, but a boolean column refuses 1 whether or not the rest of the column is True.
    flags = await _created(
        db,
        Table(
            "insert_rows_flags",
            MetaData(schema=scratch.schema),
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("ref", Uuid, nullable=False),
            Column("flag", Boolean, nullable=False),
        ),
    )
    with pytest.raises(DBAPIError, match="boolean"):
        async with create_session_factory(db)() as session, session.begin():
            await insert_rows(session, flags, [{"ref": uuid.uuid4(), "flag": True if i else 1} for i in range(20)])
