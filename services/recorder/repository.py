"""All of the recorder's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.recorder.models import (
    cancellation_requests,
    contacts,
    crime_history,
    crime_reference_counters,
    crimes,
    decision_history,
    decisions,
    n100s,
    screenings,
    victim_notifications,
)
from services.runtime import database


async def store_contacts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[UUID]:
    """Keeps received contacts, one statement; returns the ids that were new (not delivered before)."""
    return set(await database.insert_rows(session, contacts, rows, skip_existing=True, returning="contact_id"))


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


async def insert_rows(session: AsyncSession, **rows_by_table: Sequence[dict[str, Any]]) -> None:
    """Inserts gathered rows, one statement per table (crimes, crime_history, decisions, decision_history, n100s,
    screenings)."""
    tables = {
        "crimes": crimes,
        "crime_history": crime_history,
        "decisions": decisions,
        "decision_history": decision_history,
        "n100s": n100s,
        "screenings": screenings,
    }
    for name, rows in rows_by_table.items():
        await database.insert_rows(session, tables[name], rows)


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


async def lock_crime(session: AsyncSession, crime_reference: str) -> Row[Any] | None:
    """A crime record, locked until commit so two changes to it cannot interleave."""
    return (
        await session.execute(select(crimes).where(crimes.c.crime_reference == crime_reference).with_for_update())
    ).first()


async def update_crime(session: AsyncSession, crime_reference: str, **values: Any) -> None:
    """Changes a crime record (never deletes it)."""
    await session.execute(
        update(crimes).where(crimes.c.crime_reference == crime_reference).values(updated_at=func.now(), **values)
    )


async def add_crime_history(
    session: AsyncSession,
    *,
    crime_reference: str,
    at: datetime,
    event_type: str,
    by: str | None,
    detail: dict[str, Any],
) -> None:
    """Appends to a crime's history."""
    await session.execute(
        insert(crime_history).values(
            crime_reference=crime_reference, at=at, event_type=event_type, by_principal=by, detail=detail
        )
    )


async def history_of(session: AsyncSession, crime_reference: str) -> Sequence[Row[Any]]:
    """A crime's history, oldest first."""
    return (
        await session.execute(
            select(crime_history).where(crime_history.c.crime_reference == crime_reference).order_by(crime_history.c.id)
        )
    ).all()


async def lock_decision(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A contact's decision, locked until commit."""
    return (
        await session.execute(select(decisions).where(decisions.c.contact_id == contact_id).with_for_update())
    ).first()


async def update_decision(session: AsyncSession, contact_id: UUID, **values: Any) -> None:
    """Changes a contact's decision (a person resolving a pending one)."""
    await session.execute(update(decisions).where(decisions.c.contact_id == contact_id).values(**values))


async def add_decision_history(
    session: AsyncSession, *, contact_id: UUID, at: datetime, outcome: str, by: str | None, rationale: str
) -> None:
    """Appends to a contact's decision history."""
    await session.execute(
        insert(decision_history).values(
            contact_id=contact_id, at=at, outcome=outcome, by_principal=by, rationale=rationale
        )
    )


async def get_contact_body(session: AsyncSession, contact_id: UUID) -> dict[str, Any] | None:
    """The contact as received."""
    body: dict[str, Any] | None = await session.scalar(
        select(contacts.c.body).where(contacts.c.contact_id == contact_id)
    )
    return body


async def list_pending(
    session: AsyncSession, *, force: str, limit: int, after: tuple[datetime, UUID] | None = None
) -> Sequence[Row[Any]]:
    """A force's pending decisions, oldest deadline first (keyset pagination)."""
    query = select(decisions).where(decisions.c.force == force, decisions.c.outcome == "pending")
    if after is not None:
        query = query.where(tuple_(decisions.c.recording_deadline, decisions.c.contact_id) > tuple_(*after))
    return (
        await session.execute(query.order_by(decisions.c.recording_deadline, decisions.c.contact_id).limit(limit))
    ).all()


async def insert_cancellation_request(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Stores a cancellation request; False when the crime already has one open."""
    result = await session.execute(
        pg_insert(cancellation_requests)
        .values(**values)
        .on_conflict_do_nothing(
            # A literal predicate: as a bind parameter PostgreSQL's generic plan (after five runs) cannot match it
            # to the partial unique index.
            index_elements=["crime_reference"],
            index_where=text("status = 'pending'"),
        )
        .returning(cancellation_requests.c.request_id)
    )
    return result.first() is not None


async def lock_cancellation_request(session: AsyncSession, request_id: UUID) -> Row[Any] | None:
    """A cancellation request, locked until commit."""
    return (
        await session.execute(
            select(cancellation_requests).where(cancellation_requests.c.request_id == request_id).with_for_update()
        )
    ).first()


async def get_cancellation_request(session: AsyncSession, request_id: UUID) -> Row[Any] | None:
    """A cancellation request."""
    return (
        await session.execute(select(cancellation_requests).where(cancellation_requests.c.request_id == request_id))
    ).first()


async def update_cancellation_request(session: AsyncSession, request_id: UUID, **values: Any) -> None:
    """Records the decision on a cancellation request."""
    await session.execute(
        update(cancellation_requests).where(cancellation_requests.c.request_id == request_id).values(**values)
    )


async def insert_victim_notification(session: AsyncSession, values: dict[str, Any]) -> None:
    """Stores that a victim was told of a removal of their crime."""
    await session.execute(insert(victim_notifications).values(**values))


async def crime_references_of(session: AsyncSession, contact_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
    """The crimes recorded from each of these contacts, in reference order."""
    if not contact_ids:
        return {}
    rows = (
        await session.execute(
            select(crimes.c.contact_id, crimes.c.crime_reference)
            .where(crimes.c.contact_id.in_(list(contact_ids)))
            .order_by(crimes.c.crime_reference)
        )
    ).all()
    found: dict[UUID, list[str]] = {}
    for row in rows:
        found.setdefault(row.contact_id, []).append(row.crime_reference)
    return found


async def get_screening(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A contact's screening, if it was screened."""
    return (await session.execute(select(screenings).where(screenings.c.contact_id == contact_id))).first()


async def lock_screening(session: AsyncSession, contact_id: UUID) -> Row[Any] | None:
    """A contact's screening, locked until commit so two reviews cannot both pass."""
    return (
        await session.execute(select(screenings).where(screenings.c.contact_id == contact_id).with_for_update())
    ).first()


async def update_screening(session: AsyncSession, contact_id: UUID, **values: Any) -> None:
    """Records the review of a screening."""
    await session.execute(update(screenings).where(screenings.c.contact_id == contact_id).values(**values))


async def list_reviews(
    session: AsyncSession,
    *,
    force: str,
    limit: int,
    family: str | None = None,
    deadline_before: datetime | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> Sequence[Row[Any]]:
    """A force's positive screens not yet reviewed, nearest review deadline first (keyset pagination)."""
    query = select(screenings).where(
        screenings.c.force == force, screenings.c.positive.is_(True), screenings.c.reviewed_at.is_(None)
    )
    if family is not None:
        query = query.where(screenings.c.families.contains([family]))
    if deadline_before is not None:
        query = query.where(screenings.c.review_deadline <= deadline_before)
    if after is not None:
        query = query.where(tuple_(screenings.c.review_deadline, screenings.c.contact_id) > tuple_(*after))
    return (
        await session.execute(query.order_by(screenings.c.review_deadline, screenings.c.contact_id).limit(limit))
    ).all()
