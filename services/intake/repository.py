"""All of intake's SQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Result, Row, Text, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import contacts, idempotency_keys, outbox
from services.runtime.database import insert_rows

DECISIONS_CHANNEL = "intake_decisions"
"""NOTIFY channel: a contact's id, sent when the transaction noting its decision commits (`Prefer: wait`)."""


async def lock_keys(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Takes the transaction's lock on each (client, idempotency key); those another transaction holds (a request
    still in flight) are left out."""
    names = [client_id + "\n" + key for client_id, key in keys]
    name = func.unnest(bindparam("names", type_=ARRAY(Text))).table_valued("name").render_derived()
    locked = await session.scalars(
        select(name.c.name).where(func.pg_try_advisory_xact_lock(func.hashtextextended(name.c.name, 0))),
        {"names": names},
    )
    return {(client_id, key) for client_id, _, key in (n.partition("\n") for n in locked)}


async def find_keys(session: AsyncSession, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """The stored outcomes of earlier requests with these (client, idempotency key)s."""
    if not keys:
        return {}
    rows = await session.execute(
        select(idempotency_keys).where(tuple_(idempotency_keys.c.client_id, idempotency_keys.c.key).in_(list(keys)))
    )
    return {(row.client_id, row.key): row for row in rows}


async def save_keys(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keeps requests' outcomes (client_id, key, request_sha256, status_code, response, contact_id) so a retry with
    the same key gets the same answer."""
    await insert_rows(session, idempotency_keys, rows)


async def find_by_source(session: AsyncSession, *, force: str, system: str, reference: str) -> UUID | None:
    """The contact already stored for a caller's own incident reference, if any."""
    return await session.scalar(
        select(contacts.c.contact_id).where(
            contacts.c.force == force,
            contacts.c.source_system == system,
            contacts.c.source_reference == reference,
        )
    )


async def insert_contacts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[UUID]:
    """Stores contacts as received; returns the ids stored, leaving out each whose source reference the force
    already holds (or an earlier row here holds). A reference another transaction is storing makes this wait for
    it to commit (or roll back), then decide: rows go in source order, so two transactions never wait on each other.
    """
    if not rows:
        return set()
    ordered = sorted(rows, key=lambda r: (r["force"], r["source_system"], r["source_reference"]))
    result = await session.execute(
        pg_insert(contacts)
        .on_conflict_do_nothing(constraint="contacts_source_unique")
        .returning(contacts.c.contact_id),
        ordered,
    )
    return set(result.scalars())


async def get_contact(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A stored contact with the time its event reached the broker (None while it waits in the outbox)."""
    return (
        await session.execute(
            select(contacts, outbox.c.published_at, (outbox.c.id.is_(None)).label("outbox_purged"))
            .outerjoin(outbox, outbox.c.event_id == contacts.c.event_id)
            .where(contacts.c.contact_id == contact_id)
        )
    ).first()


async def mark_decided(
    session: AsyncSession,
    *,
    contact_id: UUID,
    outcome: str,
    crime_references: list[str],
    decided_at: datetime,
) -> bool:
    """Notes the recorder's decision on a contact; False when the contact is not ours."""
    result = await session.execute(
        update(contacts)
        .where(contacts.c.contact_id == contact_id)
        .values(outcome=outcome, crime_references=crime_references, decided_at=decided_at)
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result: it has the row count
    return bool(result.rowcount)


async def notify_decided(session: AsyncSession, contact_ids: Sequence[UUID]) -> None:
    """Tells every intake process, once this transaction commits, that these contacts are decided."""
    await session.execute(
        text("SELECT pg_notify(:channel, id) FROM unnest(CAST(:ids AS text[])) AS id"),
        {"channel": DECISIONS_CHANNEL, "ids": [str(c) for c in contact_ids]},
    )


async def get_decision(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A contact's decision as intake knows it (outcome None while undecided)."""
    result: Result[Any] = await session.execute(
        select(contacts.c.contact_id, contacts.c.outcome, contacts.c.crime_references, contacts.c.decided_at).where(
            contacts.c.contact_id == contact_id
        )
    )
    return result.first()


async def delete_expired_keys(session: AsyncSession, *, older_than: datetime) -> int:
    """Forgets idempotency keys created before `older_than`; returns how many."""
    result = await session.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < older_than))
    assert isinstance(result, CursorResult)  # a DELETE's result: it has the row count
    return result.rowcount or 0
