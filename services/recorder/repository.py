"""All of the recorder's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.recorder.models import contacts, crime_reference_counters, crimes, decisions


async def store_contact(
    session: AsyncSession,
    *,
    contact_id: UUID,
    force: str,
    received_at: datetime,
    body: dict[str, Any],
    event_id: UUID,
) -> bool:
    """Keeps a received contact; False when it was already here (the same contact delivered twice)."""
    result = await session.execute(
        pg_insert(contacts)
        .values(contact_id=contact_id, force=force, received_at=received_at, body=body, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(contacts.c.contact_id)
    )
    return result.first() is not None


async def allocate_crime_references(session: AsyncSession, *, force: str, year: int, count: int) -> list[int]:
    """Takes the next `count` numbers of a force's year, without gaps: the counter row is locked until commit."""
    last = await session.scalar(
        pg_insert(crime_reference_counters)
        .values(force=force, year=year, last_number=count)
        .on_conflict_do_update(
            index_elements=["force", "year"],
            set_={"last_number": crime_reference_counters.c.last_number + count, "updated_at": func.now()},
        )
        .returning(crime_reference_counters.c.last_number)
    )
    assert last is not None
    return list(range(last - count + 1, last + 1))


async def insert_decision(session: AsyncSession, values: dict[str, Any]) -> None:
    """Stores a contact's recording decision."""
    await session.execute(insert(decisions).values(**values))


async def insert_crimes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Stores crime records."""
    if rows:
        await session.execute(insert(crimes), list(rows))


async def get_decision(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A contact's decision, if made."""
    return (await session.execute(select(decisions).where(decisions.c.contact_id == contact_id))).first()


async def get_crime(session: AsyncSession, crime_reference: str) -> Row[Any] | None:
    """One crime record."""
    return (await session.execute(select(crimes).where(crimes.c.crime_reference == crime_reference))).first()


async def list_crimes(
    session: AsyncSession,
    *,
    force: str,
    contact_id: UUID | None = None,
    status: str | None = None,
    ho_class: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Sequence[Row[Any]]:
    """A force's crime records, filtered, in reference order (keyset pagination after a reference)."""
    query = select(crimes).where(crimes.c.force == force)
    if contact_id is not None:
        query = query.where(crimes.c.contact_id == contact_id)
    if status is not None:
        query = query.where(crimes.c.status == status)
    if ho_class is not None:
        query = query.where(crimes.c.ho_class == ho_class)
    if after is not None:
        query = query.where(crimes.c.crime_reference > after)
    return (await session.execute(query.order_by(crimes.c.crime_reference).limit(limit))).all()
