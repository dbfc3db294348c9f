"""The personal-data access log (Data Protection Act 2018 s.62): who collected, altered, consulted or disclosed what.

Append-only: triggers refuse DELETE and any UPDATE other than sealing. Tamper-evident: a sealer seals, every few
seconds, every committed row not yet sealed into a seal whose digest chains the previous seal's digest and each
row's content hash. Deleting, changing or inserting a sealed row breaks `verify()`. Sealing works on sets of
committed rows rather than id ranges, so request transactions never wait for each other to write the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.runtime.auth import Principal
from services.runtime.database import insert_rows

log = logging.getLogger(__name__)


class Access(StrEnum):
    """The kinds of processing s.62 requires logging."""

    COLLECTION = "collection"
    ALTERATION = "alteration"
    CONSULTATION = "consultation"
    DISCLOSURE = "disclosure"


def access_log_tables(metadata: MetaData) -> tuple[Table, Table]:
    """A service's access log and its seals."""
    entries = Table(
        "access_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("principal", String(32), nullable=False),
        Column("roles", ARRAY(String(20)), nullable=False),
        Column("force", String(10), nullable=False),
        Column("access", String(20), nullable=False),
        Column("subject_type", String(40), nullable=False),
        Column("subject_id", String(100), nullable=False),
        Column("recipient", String(200)),
        Column("detail", String(500)),
        Column("content_sha256", LargeBinary, nullable=False),
        Column("seal_id", BigInteger),
    )
    seals = Table(
        "access_log_seals",
        metadata,
        Column("seal_id", BigInteger, primary_key=True, autoincrement=True),
        Column("sealed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("row_count", Integer, nullable=False),
        Column("previous_digest", LargeBinary, nullable=False),
        Column("digest", LargeBinary, nullable=False),
    )
    return entries, seals


def append_only_sql(schema: str) -> list[str]:
    """DDL: refuse deletes, and updates other than setting an unsealed row's seal; seals are never changed."""
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}.access_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'access_log' AND OLD.seal_id IS NULL AND NEW.seal_id IS NOT NULL
             AND (to_jsonb(NEW) - 'seal_id') = (to_jsonb(OLD) - 'seal_id') THEN
            RETURN NEW;
          END IF;
          RAISE EXCEPTION 'the access log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
        END $$""",
        f"""CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON {schema}.access_log
        FOR EACH ROW EXECUTE FUNCTION {schema}.access_log_guard()""",
        f"""CREATE TRIGGER access_log_seals_append_only BEFORE UPDATE OR DELETE ON {schema}.access_log_seals
        FOR EACH ROW EXECUTE FUNCTION {schema}.access_log_guard()""",
        f"CREATE INDEX access_log_unsealed ON {schema}.access_log (id) WHERE seal_id IS NULL",
        f"CREATE INDEX access_log_subject ON {schema}.access_log (subject_type, subject_id)",
    ]


def create_access_log_tables(schema: str) -> None:
    """Migration step: a service's access log, its seals and the append-only triggers. Frozen: change by revision."""
    from alembic import op  # only ever called from inside a migration

    metadata = MetaData(schema=schema)
    for table in access_log_tables(metadata):
        table.create(op.get_bind())
    for statement in append_only_sql(schema):
        op.execute(statement)


def content_hash(entry: dict[str, Any]) -> bytes:
    """The hash of one entry's content, as sealed."""
    fields = ("at", "principal", "roles", "force", "access", "subject_type", "subject_id", "recipient", "detail")
    parts = []
    for name in fields:
        value = entry[name]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = ",".join(value)
        parts.append("" if value is None else str(value))
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def entries(
    principal: Principal,
    access: Access,
    *,
    subject_type: str,
    subject_ids: Sequence[str],
    recipient: str | None = None,
    detail: str | None = None,
) -> list[dict[str, Any]]:
    """The log entries for one kind of access by a principal to some records, each with its content hash."""
    at = datetime.now(UTC)  # when the access really happened, even in a simulation (never simulated time)
    rows = []
    for subject_id in subject_ids:
        entry = {
            "at": at,
            "principal": principal.key_id,
            "roles": sorted(r.value for r in principal.roles),
            "force": principal.force,
            "access": access.value,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "recipient": recipient,
            "detail": detail,
        }
        rows.append(entry | {"content_sha256": content_hash(entry)})
    return rows


@dataclass(frozen=True)
class AccessLog:
    """Writes a service's access log entries in the caller's transaction."""

    entries: Table
    seals: Table

    async def record(
        self,
        session: AsyncSession,
        principal: Principal,
        access: Access,
        *,
        subject_type: str,
        subject_ids: Sequence[str],
        recipient: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Logs one kind of access by a principal to some records (with the recipient, for a disclosure)."""
        await self.write(
            session,
            entries(
                principal,
                access,
                subject_type=subject_type,
                subject_ids=subject_ids,
                recipient=recipient,
                detail=detail,
            ),
        )

    async def write(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        """Logs entries made by `entries` (several principals' at once, when requests are committed together)."""
        await insert_rows(session, self.entries, rows)

    async def seal(self, engine: AsyncEngine) -> int:
        """Seals every committed, unsealed entry; returns how many. One sealer at a time (advisory lock)."""
        entries, seals = self.entries, self.seals
        async with engine.begin() as conn:
            lock = await conn.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(str(entries)))))
            if not lock:
                return 0
            rows = (
                await conn.execute(
                    select(entries.c.id, entries.c.content_sha256)
                    .where(entries.c.seal_id.is_(None))
                    .order_by(entries.c.id)
                    .limit(50_000)
                )
            ).all()
            if not rows:
                return 0
            previous = await conn.scalar(select(seals.c.digest).order_by(seals.c.seal_id.desc()).limit(1))
            previous = previous or b"\x00" * 32
            digest = _seal_digest(previous, [r.content_sha256 for r in rows])
            seal_id = await conn.scalar(
                insert(seals)
                .values(row_count=len(rows), previous_digest=previous, digest=digest)
                .returning(seals.c.seal_id)
            )
            await conn.execute(update(entries).where(entries.c.id.in_([r.id for r in rows])).values(seal_id=seal_id))
        return len(rows)

    async def run_sealer(self, engine: AsyncEngine, every_seconds: float = 5.0) -> None:
        """Seals in the background until cancelled."""
        while True:
            await asyncio.sleep(every_seconds)
            with contextlib.suppress(Exception):
                await self.seal(engine)

    async def verify(self, engine: AsyncEngine) -> list[str]:
        """Recomputes every entry's hash and every seal's digest; returns what does not match (empty: intact)."""
        entries, seals = self.entries, self.seals
        problems: list[str] = []
        async with engine.connect() as conn:
            seal_rows = (await conn.execute(select(seals).order_by(seals.c.seal_id))).all()
            previous = b"\x00" * 32
            for seal in seal_rows:
                rows = (
                    await conn.execute(select(entries).where(entries.c.seal_id == seal.seal_id).order_by(entries.c.id))
                ).all()
                for row in rows:
                    if content_hash(dict(row._mapping)) != row.content_sha256:
                        problems.append(f"entry {row.id} does not match its content hash")
                if seal.previous_digest != previous:
                    problems.append(f"seal {seal.seal_id} does not follow the seal before it")
                if len(rows) != seal.row_count:
                    problems.append(f"seal {seal.seal_id} sealed {seal.row_count} entries; {len(rows)} remain")
                if _seal_digest(seal.previous_digest, [r.content_sha256 for r in rows]) != seal.digest:
                    problems.append(f"seal {seal.seal_id} digest does not match its entries")
                previous = seal.digest
        return problems

    async def entries_for(self, session: AsyncSession, *, subject_type: str, subject_id: str) -> Sequence[Any]:
        """Who accessed one record, oldest first."""
        return (
            await session.execute(
                select(self.entries)
                .where(self.entries.c.subject_type == subject_type, self.entries.c.subject_id == subject_id)
                .order_by(self.entries.c.id)
            )
        ).all()


def _seal_digest(previous: bytes, hashes: Sequence[bytes]) -> bytes:
    digest = hashlib.sha256(previous)
    for h in hashes:
        digest.update(h)
    return digest.digest()
