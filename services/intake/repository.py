"""All of intake's SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import contacts, idempotency_keys, outbox


async def try_lock_key(session: AsyncSession, *, client_id: str, key: str) -> bool:
    """Takes the transaction's lock on one idempotency key; False when another request holds it (in flight)."""
    return bool(
        await session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtextextended(client_id + "\n" + key, 0))))
    )


async def find_key(session: AsyncSession, *, client_id: str, key: str) -> Row[Any] | None:
    """The stored outcome of an earlier request with this key, if any."""
    return (
        await session.execute(
            select(idempotency_keys).where(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
        )
    ).first()


async def save_key(
    session: AsyncSession,
    *,
    client_id: str,
    key: str,
    request_sha256: bytes,
    status_code: int,
    response: dict[str, Any],
    contact_id: UUID,
) -> None:
    """Keeps a request's outcome so a retry with the same key gets the same answer."""
    await session.execute(
        insert(idempotency_keys).values(
            client_id=client_id,
            key=key,
            request_sha256=request_sha256,
            status_code=status_code,
            response=response,
            contact_id=contact_id,
        )
    )


async def find_by_source(session: AsyncSession, *, force: str, system: str, reference: str) -> UUID | None:
    """The contact already stored for a caller's own incident reference, if any."""
    return await session.scalar(
        select(contacts.c.contact_id).where(
            contacts.c.force == force,
            contacts.c.source_system == system,
            contacts.c.source_reference == reference,
        )
    )


async def insert_contact(
    session: AsyncSession,
    *,
    contact_id: UUID,
    force: str,
    source_system: str,
    source_reference: str,
    received_at: datetime,
    body: dict[str, Any],
    submitted_by: str,
    event_id: UUID,
) -> bool:
    """Stores a contact as received; False when the force already holds a contact with this source reference.
    Two submissions of one reference at once are decided one after the other: the unique index makes the second
    wait for the first to commit (or roll back), then find it."""
    inserted = await session.scalar(
        pg_insert(contacts)
        .values(
            contact_id=contact_id,
            force=force,
            source_system=source_system,
            source_reference=source_reference,
            received_at=received_at,
            body=body,
            submitted_by=submitted_by,
            event_id=event_id,
        )
        .on_conflict_do_nothing(constraint="contacts_source_unique")
        .returning(contacts.c.contact_id)
    )
    return inserted is not None


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
    return bool(result.rowcount)


async def delete_expired_keys(session: AsyncSession, *, older_than: datetime) -> int:
    """Forgets idempotency keys created before `older_than`; returns how many."""
    result = await session.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < older_than))
    return result.rowcount or 0
