"""The auditor's SQL for narrative screens and their reviews (issue 18)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Result, Row, Select, false, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.auditor.models import screenings
from services.auditor.rules.screening import ScreenFact


async def upsert_screen(session: AsyncSession, row: dict[str, Any]) -> None:
    """Stores a contact's screen (a repeated event changes nothing a review has written)."""
    statement = pg_insert(screenings).values(**row)
    updated = {c: statement.excluded[c] for c in row if c != "contact_id"}
    await session.execute(statement.on_conflict_do_update(index_elements=["contact_id"], set_=updated))


async def record_review(
    session: AsyncSession, contact_id: UUID, *, reviewed_at: datetime, action: str, crime_references: list[str]
) -> Row[Any] | None:
    """Notes a screen's review; returns the screen as stored after it, None if the auditor never saw the screen."""
    result: Result[Any] = await session.execute(
        update(screenings)
        .where(screenings.c.contact_id == contact_id)
        .values(reviewed_at=reviewed_at, review_action=action, crime_references=crime_references)
        .returning(screenings)
    )
    return result.first()


def screens_due_query(*, now: datetime, limit: int = 1000) -> Select[Any]:
    """Positive screens whose review deadline has passed and which have not been checked at it yet (locked)."""
    return (
        select(screenings)
        # As the partial index says, so each sweep of a replay reads only the screens due.
        .where(screenings.c.positive, screenings.c.deadline_checked == false(), screenings.c.review_deadline <= now)
        .order_by(screenings.c.review_deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def screens_due(session: AsyncSession, *, now: datetime, limit: int = 1000) -> Sequence[Row[Any]]:
    """Positive screens whose review deadline has passed and which have not been checked at it yet (locked)."""
    result: Result[Any] = await session.execute(screens_due_query(now=now, limit=limit))
    return result.all()


async def mark_screens_checked(session: AsyncSession, contact_ids: Sequence[UUID]) -> None:
    """Notes that screens were checked at their review deadline."""
    await session.execute(
        update(screenings).where(screenings.c.contact_id.in_(contact_ids)).values(deadline_checked=True)
    )


async def undecided_between(session: AsyncSession, *, force: str, start: datetime, end: datetime) -> Sequence[Row[Any]]:
    """The families (and time of receipt) of the force's positive screens, of contacts received in the period,
    nobody has reviewed."""
    query: Select[*tuple[Any, ...]] = select(screenings.c.families, screenings.c.received_at).where(
        screenings.c.force == force,
        screenings.c.received_at >= start,
        screenings.c.received_at < end,
        screenings.c.positive,
        screenings.c.reviewed_at.is_(None),
    )
    return (await session.execute(query)).all()


def screen_fact(row: Any) -> ScreenFact:
    """A screen as stored, as the screening rule reads it."""
    return ScreenFact(
        contact_id=str(row.contact_id),
        force=row.force,
        positive=row.positive,
        score=row.score,
        families=tuple(row.families),
        screener_version=row.screener_version,
        outcome=row.outcome,
        received_at=row.received_at,
        review_deadline=row.review_deadline,
        reviewed_at=row.reviewed_at,
        review_action=row.review_action,
        crime_references=tuple(row.crime_references),
    )
