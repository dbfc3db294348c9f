"""Async SQLAlchemy on asyncpg: one engine per process, sessions committed at the boundary."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pydantic_core
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql import sqltypes

from services.runtime.settings import EngineSettings


def create_engine(settings: EngineSettings) -> AsyncEngine:
    """The process's connection pool to PostgreSQL."""
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        # JSON columns through pydantic-core (Rust): the standard library's encoder was a twentieth of intake's CPU.
        json_serializer=_json,
        json_deserializer=pydantic_core.from_json,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle timeout) is replaced before use.

    asyncpg notices a closed socket as soon as the event loop reads its end, so this costs no round trip, where
    `pool_pre_ping` costs three on every checkout (BEGIN, a ping, ROLLBACK) and was a tenth of intake's time. A
    connection that dies in use is still invalidated by SQLAlchemy, with every older one in the pool."""
    if dbapi_connection._connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts rows (all with the same columns) in the session's transaction, in order, with one statement: each
    column goes as one array parameter, unnested on the server.

    For the hot appends (outbox, access log, idempotency records, the recorder's rows) of many rows at a time.
    SQLAlchemy's executemany spent about 0.1 ms of CPU a row on parameters; asyncpg's executemany has the server
    run the INSERT (and its statement triggers, such as the outbox's NOTIFY) once a row."""
    if not rows:
        return
    columns = tuple(rows[0])
    statement, encoders = _insert_plan(table, columns)
    arrays: list[list[Any]] = [[row[name] for row in rows] for name in columns]
    for i, encode in encoders:
        arrays[i] = [encode(value) for value in arrays[i]]
    connection = await (await session.connection()).get_raw_connection()
    await connection.driver_connection.execute(statement, *arrays)


@functools.cache
def _insert_plan(
    table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[tuple[int, Callable[[Any], str | None]], ...]]:
    """The INSERT … SELECT FROM unnest statement for these columns, and how to send the columns that go as text
    (JSON; arrays, which unnest would flatten) for the server to cast back."""
    # Strings (and arrays of them) go as text, never as varchar(n): an explicit cast to varchar(n) cuts a value
    # short without a word, where the INSERT's own assignment refuses one that is too long.
    dialect = postgresql.dialect()
    params, selected, encoders = [], [], []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        selected.append(f'"{name}"')
        if isinstance(column_type, sqltypes.JSON):
            encoders.append((i, _json))  # None too, as JSON null, as SQLAlchemy's JSON type stores it
            params.append(f"${i + 1}::text[]")
            selected[-1] += f"::{column_type.compile(dialect=dialect)}"
        elif isinstance(column_type, sqltypes.ARRAY):
            encoders.append((i, _array_literal))
            params.append(f"${i + 1}::text[]")
            selected[-1] += "::text[]"
        elif isinstance(column_type, sqltypes.String):
            params.append(f"${i + 1}::text[]")
        else:
            params.append(f"${i + 1}::{column_type.compile(dialect=dialect)}[]")
    names = ", ".join(f'"{name}"' for name in columns)
    statement = (
        f'INSERT INTO "{table.schema}"."{table.name}" ({names}) '
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(params)}) WITH ORDINALITY AS row_({names}, ordinal_) "
        "ORDER BY ordinal_"  # in the given order: serial ids (the outbox's publication order) follow it
    )
    return statement, tuple(encoders)


def _array_literal(values: Sequence[Any] | None) -> str | None:
    """A one-dimensional array in PostgreSQL's text form, every element quoted (None stays SQL NULL)."""
    if values is None:
        return None
    quoted = ("NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _json(value: Any) -> str:
    """A JSON column's value as text, through pydantic-core (Rust)."""
    return pydantic_core.to_json(value).decode()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (we read them back into responses)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str | URL) -> str:
    """The same database as a plain libpq DSN, for raw asyncpg connections (LISTEN, COPY)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
