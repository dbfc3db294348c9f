"""Async SQLAlchemy on asyncpg: one engine per process, sessions committed at the boundary."""

from __future__ import annotations

import datetime
import enum
import functools
import uuid
from collections.abc import Mapping, Sequence
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
        # A database error names its statement, never its parameters: those hold victims' accounts, and errors
        # are logged.
        hide_parameters=True,
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


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_existing: bool = False,
    returning: str | None = None,
) -> list[Any]:
    """Inserts rows (all with the same columns) in the session's transaction, in order, with one statement: each
    column goes as one array parameter, unnested on the server, or as a single parameter when every row has the
    same value in it. `skip_existing`: rows that would break a unique constraint are left out (ON CONFLICT DO
    NOTHING). Returns the `returning` column of the rows inserted (nothing when it is None).

    For the hot appends (outbox, access log, idempotency records, the recorder's rows) of many rows at a time.
    SQLAlchemy's executemany spent about 0.1 ms of CPU a row on parameters; asyncpg's executemany has the server
    run the INSERT (and its statement triggers, such as the outbox's NOTIFY) once a row. Encoding each value is
    still most of the client's cost (a timestamp about 0.7 µs), and a batch's rows share many values (the force,
    the rules version, the time it was handled, the nulls), so those go once."""
    if not rows:
        return []
    columns = tuple(rows[0])
    kinds = _column_kinds(table, columns)
    values: list[list[Any]] = []
    for name, kind in zip(columns, kinds, strict=True):
        column = [row[name] for row in rows]
        if kind is _Kind.JSON:
            column = [_json(value) for value in column]  # None too, as JSON null, as SQLAlchemy's JSON type stores it
        elif kind is _Kind.ARRAY:
            column = [array_literal(value) for value in column]
        values.append(column)
    # The first column always goes as an array: it gives the number of rows. A few rows go all as arrays: sharing
    # would save little there, and each pattern of shared columns is another statement for the server to prepare.
    shared = tuple(i > 0 and len(rows) >= _SHARE_FROM and _all_same(column) for i, column in enumerate(values))
    statement = _insert_statement(table, columns, shared, skip_existing, returning)
    params = tuple(column[0] if same else column for column, same in zip(values, shared, strict=True))
    # Straight to the driver, but through SQLAlchemy's connection: it begins the session's transaction on the
    # server first if nothing has yet (the driver's own connection would run the statement on its own, committed).
    result = await (await session.connection()).exec_driver_sql(statement, params)
    return [] if returning is None else [row[0] for row in result]


async def upsert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str) -> None:
    """Inserts rows (all with the same columns, no two with the same `key`) in one statement as `insert_rows` does,
    or, where a row with that key is stored, sets the columns these rows name (and only those) to their values."""
    if not rows:
        return
    columns = tuple(rows[0])
    values = []
    for name, kind in zip(columns, _column_kinds(table, columns), strict=True):
        column = [row[name] for row in rows]
        if kind is _Kind.JSON:
            column = [_json(value) for value in column]
        elif kind is _Kind.ARRAY:
            column = [array_literal(value) for value in column]
        values.append(column)
    await (await session.connection()).exec_driver_sql(_upsert_statement(table, columns, key), tuple(values))


@functools.cache
def _upsert_statement(table: Table, columns: tuple[str, ...], key: str) -> str:
    updated = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in columns if name != key)
    statement = _insert_statement(table, columns, (False,) * len(columns), False, None)
    return statement + f' ON CONFLICT ("{key}") DO ' + (f"UPDATE SET {updated}" if updated else "NOTHING")


class _Kind(enum.Enum):
    """How a column's values travel: as they are, or as text the server casts back."""

    PLAIN = "plain"
    TEXT = "text"  # strings: text, never varchar(n) (an explicit cast to varchar(n) cuts a value short silently)
    JSON = "json"  # JSON text
    ARRAY = "array"  # an array literal ('{"a","b"}'): unnest would flatten a real array


@functools.cache
def _column_kinds(table: Table, columns: tuple[str, ...]) -> tuple[_Kind, ...]:
    kinds = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, sqltypes.JSON):
            kinds.append(_Kind.JSON)
        elif isinstance(column_type, sqltypes.ARRAY):
            kinds.append(_Kind.ARRAY)
        elif isinstance(column_type, sqltypes.String):
            kinds.append(_Kind.TEXT)
        else:
            kinds.append(_Kind.PLAIN)
    return tuple(kinds)


_SHARE_FROM = 16
"""Rows from which a column every row shares goes once."""

_SHAREABLE = (str, bytes, bool, int, uuid.UUID, datetime.date, type(None))
"""Types whose equal values the database stores alike. Not float (0.0 == -0.0), Decimal (1.0 == 1.00) or time with
a zone (12:00+00 == 13:00+01). A datetime may share across zones: a timestamptz keeps the instant only."""


def _all_same(column: list[Any]) -> bool:
    """Whether every value in the column is the first, of the same type, and stored alike (JSON and arrays are
    compared as the text that is sent). Compared in C: list.count, then the set of types."""
    first = column[0]
    return (
        isinstance(first, _SHAREABLE)
        and column.count(first) == len(column)
        and len(set(map(type, column))) == 1  # True == 1, but a boolean column refuses 1
    )


@functools.cache
def _insert_statement(
    table: Table, columns: tuple[str, ...], shared: tuple[bool, ...], skip_existing: bool, returning: str | None
) -> str:
    """The INSERT … SELECT FROM unnest statement: array parameters for the columns that vary, single parameters
    (cast to the column's type) for those every row shares."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect classes are unannotated
    unnested, params, selected = [], [], []
    for i, (name, kind, same) in enumerate(zip(columns, _column_kinds(table, columns), shared, strict=True)):
        column_type = table.c[name].type
        sent = "text" if kind is not _Kind.PLAIN else column_type.compile(dialect=dialect)
        cast = {_Kind.JSON: f"::{column_type.compile(dialect=dialect)}", _Kind.ARRAY: "::text[]"}.get(kind, "")
        if same:
            selected.append(f"${i + 1}::{sent}{cast}")
        else:
            selected.append(f'"{name}"{cast}')
            unnested.append(f'"{name}"')
            params.append(f"${i + 1}::{sent}[]")
    names = ", ".join(f'"{name}"' for name in columns)
    statement = (
        f'INSERT INTO "{table.schema}"."{table.name}" ({names}) '
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(params)}) WITH ORDINALITY "
        f"AS row_({', '.join(unnested)}, ordinal_) "
        "ORDER BY ordinal_"  # in the given order: serial ids (the outbox's publication order) follow it
    )
    if skip_existing:
        statement += " ON CONFLICT DO NOTHING"
    if returning is not None:
        statement += f' RETURNING "{returning}"'
    return statement


def array_literal(values: Sequence[Any] | None) -> str | None:
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
