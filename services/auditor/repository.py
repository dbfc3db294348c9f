"""All of the auditor's SQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Result,
    Row,
    Select,
    and_,
    any_,
    bindparam,
    false,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text, Uuid

from services.auditor.models import (
    alert_stream,
    contacts,
    crimes,
    flag_history,
    flags,
    n100s,
    notifications,
    removals,
)
from services.auditor.rules.facts import ContactState, CrimeFact, DecisionFact, ReportedFacts
from services.runtime.database import upsert_rows


async def upsert_contacts(session: AsyncSession, changes: Sequence[dict[str, Any]]) -> None:
    """Adds what events told about contacts, whichever event arrived first: each row sets only the columns it
    names (a report's, a decision's, or just the force), one statement (and round trip) per set of columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        by_columns.setdefault(tuple(sorted(change)), []).append(change)
    for rows in by_columns.values():
        await upsert_rows(session, contacts, rows, key="contact_id")


async def upsert_crimes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Adds or updates crimes in the projection (every row names every column), in one statement."""
    await upsert_rows(session, crimes, rows, key="crime_reference")


async def update_crime(session: AsyncSession, crime_reference: str, **values: Any) -> None:
    """Changes a crime the projection already holds (status, class)."""
    await session.execute(update(crimes).where(crimes.c.crime_reference == crime_reference).values(**values))


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


async def crime_is_live(session: AsyncSession, *, crime_reference: str, force: str) -> bool:
    """Whether a crime of this force is recorded and not cancelled or transferred."""
    status = await session.scalar(
        select(crimes.c.status).where(crimes.c.crime_reference == crime_reference, crimes.c.force == force)
    )
    return status == "recorded"


_ANY_ID = any_(bindparam("ids", type_=ARRAY(Uuid)))
_PAIRS = (
    func.unnest(bindparam("rules", type_=ARRAY(Text)), bindparam("subjects", type_=ARRAY(Text)))
    .table_valued("rule", "subject")
    .render_derived()
)


async def contact_states(session: AsyncSession, contact_ids: Collection[UUID]) -> dict[UUID, ContactState]:
    """Everything the detectors need about each contact the projection holds, in three queries."""
    if not contact_ids:
        return {}
    # The ids as one array parameter: one prepared statement for any number (an IN list is one for each length).
    ids = {"ids": list(contact_ids)}
    rows = (await session.execute(select(contacts).where(contacts.c.contact_id == _ANY_ID), ids)).all()
    crimes_by: dict[UUID, list[CrimeFact]] = {}
    for c in await session.execute(
        select(crimes).where(crimes.c.contact_id == _ANY_ID).order_by(crimes.c.contact_id, crimes.c.crime_reference),
        ids,
    ):
        crimes_by.setdefault(c.contact_id, []).append(
            CrimeFact(c.crime_reference, c.ho_class, c.audit_category, c.status, c.recorded_at, c.recording_deadline)
        )
    counted = select(n100s.c.contact_id, func.count()).where(n100s.c.contact_id == _ANY_ID).group_by(n100s.c.contact_id)
    n100_counts = {contact_id: count for contact_id, count in await session.execute(counted, ids)}
    return {
        row.contact_id: ContactState(
            contact_id=str(row.contact_id),
            force=row.force,
            received_at=row.received_at,
            recording_deadline=row.recording_deadline,
            facts=ReportedFacts.from_json(row.facts) if row.facts else None,
            decision=DecisionFact.from_json(row.decision) if row.decision else None,
            crimes=tuple(crimes_by.get(row.contact_id, ())),
            n100s=int(n100_counts.get(row.contact_id, 0)),
        )
        for row in rows
    }


async def insert_n100(session: AsyncSession, **values: Any) -> None:
    """Notes an N100 record."""
    await session.execute(pg_insert(n100s).values(**values).on_conflict_do_nothing())


async def insert_removal(session: AsyncSession, **values: Any) -> None:
    """Notes a cancellation or transfer."""
    await session.execute(pg_insert(removals).values(**values).on_conflict_do_nothing())


async def insert_notification(session: AsyncSession, **values: Any) -> None:
    """Notes that a victim was told."""
    await session.execute(pg_insert(notifications).values(**values).on_conflict_do_nothing())


async def notifications_for(session: AsyncSession, crime_references: Collection[str]) -> dict[str, list[datetime]]:
    """When the victims of these crimes were told (of their removal), by crime."""
    told: dict[str, list[datetime]] = {}
    if crime_references:
        query = select(notifications.c.crime_reference, notifications.c.notified_at).where(
            notifications.c.crime_reference.in_(list(crime_references))
        )
        for crime_reference, notified_at in await session.execute(query):
            told.setdefault(crime_reference, []).append(notified_at)
    return told


async def removals_of(session: AsyncSession, crime_reference: str) -> Sequence[Row[Any]]:
    """The removals of a crime."""
    return (await session.execute(select(removals).where(removals.c.crime_reference == crime_reference))).all()


def contacts_due_query(*, now: datetime, limit: int = 1000) -> Select[UUID]:
    """Contacts whose recording deadline has passed and which have not been checked at it yet (locked)."""
    return (
        select(contacts.c.contact_id)
        # `= false`, as the partial index says (`IS false` would not use it: a scan of every contact, every run).
        .where(contacts.c.deadline_checked == false(), contacts.c.recording_deadline <= now)
        .order_by(contacts.c.recording_deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def contacts_due(session: AsyncSession, *, now: datetime, limit: int = 1000) -> list[UUID]:
    """Contacts whose recording deadline has passed and which have not been checked at it yet (locked)."""
    return list((await session.scalars(contacts_due_query(now=now, limit=limit))).all())


async def mark_deadline_checked(session: AsyncSession, contact_ids: Sequence[UUID]) -> None:
    """Notes that contacts were checked at their deadline."""
    await session.execute(update(contacts).where(contacts.c.contact_id.in_(contact_ids)).values(deadline_checked=True))


def removals_due_query(*, now: datetime, limit: int = 1000) -> Select[*tuple[Any, ...]]:
    """Removals whose victim-notice limit has passed and which have not been checked yet (locked)."""
    return (
        select(removals)
        .where(removals.c.notice_checked == false(), removals.c.notify_by <= now)  # as the partial index says
        .order_by(removals.c.notify_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def removals_due(session: AsyncSession, *, now: datetime, limit: int = 1000) -> Sequence[Row[Any]]:
    """Removals whose victim-notice limit has passed and which have not been checked yet (locked)."""
    return (await session.execute(removals_due_query(now=now, limit=limit))).all()


async def mark_notice_checked(session: AsyncSession, event_ids: Sequence[UUID]) -> None:
    """Notes that removals were checked at their victim-notice limit."""
    await session.execute(update(removals).where(removals.c.event_id.in_(event_ids)).values(notice_checked=True))


# ------------------------------------------------------------------------------------------------ flags


async def flags_by_key(session: AsyncSession, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """The flags raised for these (rule, subject) pairs, locked for this transaction."""
    if not keys:
        return {}
    # Two array parameters: one statement for any number of pairs (an IN list is a statement per length, each kept
    # prepared on every pooled connection, and a replay's resident memory grew with its log).
    wanted = select(_PAIRS.c.rule, _PAIRS.c.subject)
    query = select(flags).where(tuple_(flags.c.rule, flags.c.subject).in_(wanted)).with_for_update(of=flags)
    pairs = {"rules": [rule for rule, _ in keys], "subjects": [subject for _, subject in keys]}
    return {(row.rule, row.subject): row for row in await session.execute(query, pairs)}


async def insert_flags(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Stores new flags; returns the id of each stored, by (rule, subject). A flag another transaction raised
    first (the same rule on the same subject) is not stored again."""
    if not rows:
        return {}
    statement = (
        pg_insert(flags)
        .on_conflict_do_nothing(constraint="flags_raised_once")
        .returning(flags.c.rule, flags.c.subject, flags.c.flag_id)
    )
    return {(rule, subject): flag_id for rule, subject, flag_id in await session.execute(statement, list(rows))}


async def update_flags(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Writes new statuses of flags this transaction holds locked (keys: flag_id, status, cured_by, updated_at)."""
    if rows:
        statement = (
            update(flags)
            .where(flags.c.flag_id == bindparam("id"))
            .values(status=bindparam("new_status"), cured_by=bindparam("new_cured_by"), updated_at=bindparam("at"))
        )
        await session.execute(
            statement,
            [
                {"id": r["flag_id"], "new_status": r["status"], "new_cured_by": r["cured_by"], "at": r["updated_at"]}
                for r in rows
            ],
        )


async def set_flag_status(
    session: AsyncSession, *, flag_id: int, status: str, resolution: str | None, now: datetime
) -> Row[Any] | None:
    """Moves a flag to a new status."""
    result: Result[Any] = await session.execute(
        update(flags)
        .where(flags.c.flag_id == flag_id)
        .values(status=status, resolution=resolution, updated_at=now)
        .returning(flags)
    )
    return result.first()


async def add_flag_history(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Appends to flags' histories (keys: flag_id, at, status, by_principal, note)."""
    if rows:
        await session.execute(insert(flag_history), list(rows))


async def flag_history_of(session: AsyncSession, flag_id: int) -> Sequence[Row[Any]]:
    """A flag's history, oldest first."""
    return (
        await session.execute(select(flag_history).where(flag_history.c.flag_id == flag_id).order_by(flag_history.c.id))
    ).all()


async def get_flag(session: AsyncSession, flag_id: int, *, lock: bool = False) -> Row[Any] | None:
    """One flag."""
    query = select(flags).where(flags.c.flag_id == flag_id)
    return (await session.execute(query.with_for_update() if lock else query)).first()


def flag_filters(
    *,
    force: str,
    rule: str | None = None,
    status: str | None = None,
    severities: Sequence[str] | None = None,
    contact_id: UUID | None = None,
    crime_reference: str | None = None,
    raised_from: datetime | None = None,
    raised_to: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions a force's flags must meet to pass the listing's filters."""
    conditions = [flags.c.force == force]
    equal = {"rule": rule, "status": status, "contact_id": contact_id, "crime_reference": crime_reference}
    conditions.extend(flags.c[column] == value for column, value in equal.items() if value)
    if severities:
        conditions.append(flags.c.severity.in_(list(severities)))
    if raised_from:
        conditions.append(flags.c.raised_at >= raised_from)
    if raised_to:
        conditions.append(flags.c.raised_at < raised_to)
    return conditions


async def list_flags(
    session: AsyncSession,
    *,
    force: str,
    after: int | None = None,
    limit: int = 50,
    where: Sequence[ColumnElement[bool]] = (),
    **filters: Any,
) -> Sequence[Row[Any]]:
    """A force's flags, filtered (`flag_filters`, and any further conditions), oldest first (keyset pagination
    after a flag id)."""
    query = select(flags).where(*flag_filters(force=force, **filters), *where)
    if after:
        query = query.where(flags.c.flag_id > after)
    return (await session.execute(query.order_by(flags.c.flag_id).limit(limit))).all()


async def append_alerts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Adds flag changes to the resumable alert stream (SSE) (keys: flag_id, force, rule, severity, at, body)."""
    if rows:
        await session.execute(insert(alert_stream), list(rows))


def _force_in_period(
    force_column: ColumnElement[str], time_column: ColumnElement[datetime], force: str, start: datetime, end: datetime
) -> ColumnElement[bool]:
    """A force's rows whose time falls in [start, end)."""
    return and_(force_column == force, time_column >= start, time_column < end)


async def contacts_received(session: AsyncSession, *, force: str, start: datetime, end: datetime) -> Sequence[Row[Any]]:
    """A force's contacts received in [start, end), with what they reported, how they were decided, and whether
    their recording deadline has been judged: the recording rate's population, and a sample audit's."""
    c = contacts.c
    query: Select[*tuple[Any, ...]] = select(c.contact_id, c.facts, c.outcome, c.decision, c.deadline_checked).where(
        _force_in_period(c.force, c.received_at, force, start, end), c.facts.is_not(None)
    )
    return (await session.execute(query)).all()


async def crimes_recorded_between(session: AsyncSession, *, force: str, start: datetime, end: datetime) -> int:
    """How many crimes a force recorded in [start, end) (fraud is never among them: Action Fraud records it)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(crimes)
            .where(_force_in_period(crimes.c.force, crimes.c.recorded_at, force, start, end))
        )
        or 0
    )


async def removals_between(session: AsyncSession, *, force: str, start: datetime, end: datetime) -> Sequence[Row[Any]]:
    """A force's cancellations and transfers decided by a person in [start, end)."""
    return (
        await session.execute(
            select(removals).where(
                _force_in_period(removals.c.force, removals.c.removed_at, force, start, end),
                removals.c.detail["request_id"].astext.is_not(None),
            )
        )
    ).all()
