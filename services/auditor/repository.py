"""All of the auditor's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.auditor.models import contacts, crimes


async def upsert_contact(session: AsyncSession, contact_id: UUID, **values: Any) -> None:
    """Adds what an event tells about a contact, whichever event arrives first."""
    await session.execute(
        pg_insert(contacts)
        .values(contact_id=contact_id, **values)
        .on_conflict_do_update(index_elements=["contact_id"], set_=values)
    )


async def upsert_crime(session: AsyncSession, *, crime_reference: str, **values: Any) -> None:
    """Adds or updates a crime in the projection."""
    await session.execute(
        pg_insert(crimes)
        .values(crime_reference=crime_reference, **values)
        .on_conflict_do_update(index_elements=["crime_reference"], set_=values)
    )


async def get_contact(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """The auditor's view of a contact."""
    return (await session.execute(select(contacts).where(contacts.c.contact_id == contact_id))).first()


async def crimes_of(session: AsyncSession, contact_id: UUID) -> Sequence[Row[Any]]:
    """The crimes recorded for a contact, as the auditor has seen them."""
    return (
        await session.execute(
            select(crimes).where(crimes.c.contact_id == contact_id).order_by(crimes.c.crime_reference)
        )
    ).all()
