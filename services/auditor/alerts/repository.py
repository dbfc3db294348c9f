"""The SQL of alerts for supervisors: the alert stream's settled position, streams, webhook subscriptions and their
deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Result, Row, case, exists, func, insert, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.auditor.models import alert_deliveries, alert_stream, alert_subscriptions

LIVE = ("active", "suspended")


async def stream_snapshot(conn: AsyncConnection | AsyncSession) -> tuple[int, frozenset[str]]:
    """The highest alert-stream position visible now, and the transactions that have written to the stream and not
    yet ended.

    Positions are handed out when a row is inserted, not when it commits, so a lower one can become visible after a
    higher one. A transaction that inserts holds its lock on the table from before it takes a position until it
    ends, so any position below the top still to appear belongs to one of the transactions listed here.
    """
    row = (
        await conn.execute(
            text(
                "SELECT (SELECT coalesce(max(seq), 0) FROM auditor.alert_stream) AS top,"
                " ARRAY(SELECT virtualtransaction FROM pg_locks"
                "  WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted"
                "  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                "  AND relation = 'auditor.alert_stream'::regclass) AS writing"
            )
        )
    ).one()
    return int(row.top), frozenset(row.writing)


async def alerts_between(
    session: AsyncSession,
    *,
    force: str,
    after: int,
    upto: int,
    rules: Sequence[str] | None,
    severities: Sequence[str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """A force's alerts after one position and up to another, matching the filters, in stream order."""
    query = select(alert_stream).where(
        alert_stream.c.force == force, alert_stream.c.seq > after, alert_stream.c.seq <= upto
    )
    if rules:
        query = query.where(alert_stream.c.rule.in_(list(rules)))
    if severities:
        query = query.where(alert_stream.c.severity.in_(list(severities)))
    return (await session.execute(query.order_by(alert_stream.c.seq).limit(limit))).all()


async def database_now(session: AsyncSession) -> datetime:
    """The database's clock: one clock for every process that delivers."""
    now = await session.scalar(select(func.now()))
    assert isinstance(now, datetime)
    return now


# ------------------------------------------------------------------------------------------------ subscriptions


async def insert_subscription(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    """Stores a new subscription."""
    result: Result[Any] = await session.execute(
        insert(alert_subscriptions).values(**values).returning(alert_subscriptions)
    )
    return result.one()


async def count_live_subscriptions(session: AsyncSession, *, force: str) -> int:
    """How many subscriptions a force holds that are active or suspended."""
    count = await session.scalar(
        select(func.count())
        .select_from(alert_subscriptions)
        .where(alert_subscriptions.c.force == force, alert_subscriptions.c.status.in_(LIVE))
    )
    return int(count or 0)


async def subscriptions_of(
    session: AsyncSession, *, force: str, status: str | None, after: UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """A force's subscriptions, oldest first (keyset pagination after a subscription)."""
    subs = alert_subscriptions.c
    query = select(alert_subscriptions).where(subs.force == force)
    if status:
        query = query.where(subs.status == status)
    if after:
        anchor = select(subs.created_at).where(subs.subscription_id == after).scalar_subquery()
        query = query.where(tuple_(subs.created_at, subs.subscription_id) > tuple_(anchor, after))
    return (await session.execute(query.order_by(subs.created_at, subs.subscription_id).limit(limit))).all()


async def get_subscription(session: AsyncSession, subscription_id: UUID, *, lock: bool = False) -> Row[Any] | None:
    """One subscription."""
    query = select(alert_subscriptions).where(alert_subscriptions.c.subscription_id == subscription_id)
    return (await session.execute(query.with_for_update() if lock else query)).first()


async def update_subscription(session: AsyncSession, subscription_id: UUID, **values: Any) -> Row[Any] | None:
    """Changes a subscription (status, by a person)."""
    result: Result[Any] = await session.execute(
        update(alert_subscriptions)
        .where(alert_subscriptions.c.subscription_id == subscription_id)
        .values(updated_at=func.now(), **values)
        .returning(alert_subscriptions)
    )
    return result.first()


async def latest_deliveries(session: AsyncSession, subscription_ids: Sequence[UUID]) -> dict[UUID, Row[Any]]:
    """The most recent delivery attempt of each subscription that has made one."""
    if not subscription_ids:
        return {}
    latest = (
        select(func.max(alert_deliveries.c.id))
        .where(alert_deliveries.c.subscription_id.in_(list(subscription_ids)))
        .group_by(alert_deliveries.c.subscription_id)
    )
    rows = (await session.execute(select(alert_deliveries).where(alert_deliveries.c.id.in_(latest)))).all()
    return {r.subscription_id: r for r in rows}


async def deliveries_of(session: AsyncSession, subscription_id: UUID, *, limit: int) -> Sequence[Row[Any]]:
    """A subscription's delivery attempts, newest first."""
    return (
        await session.execute(
            select(alert_deliveries)
            .where(alert_deliveries.c.subscription_id == subscription_id)
            .order_by(alert_deliveries.c.id.desc())
            .limit(limit)
        )
    ).all()


# ------------------------------------------------------------------------------------------------ deliveries


async def claim_due_subscriptions(
    session: AsyncSession, *, horizon: int, token: UUID, lease: timedelta, limit: int
) -> Sequence[Row[Any]]:
    """Leases active subscriptions with alerts of their force still to deliver up to `horizon`, and not waiting to
    retry, to this deliverer alone."""
    subs = alert_subscriptions.c
    now = func.now()
    behind = exists().where(
        alert_stream.c.force == subs.force, alert_stream.c.seq > subs.delivered_seq, alert_stream.c.seq <= horizon
    )
    due = (
        select(subs.subscription_id)
        .where(
            subs.status == "active",
            subs.delivered_seq < horizon,
            behind,
            or_(subs.next_attempt_at.is_(None), subs.next_attempt_at <= now),
            or_(subs.leased_until.is_(None), subs.leased_until < now),
        )
        .order_by(subs.next_attempt_at.nulls_first(), subs.delivered_seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result: Result[Any] = await session.execute(
        update(alert_subscriptions)
        .where(subs.subscription_id.in_(due.scalar_subquery()))
        .values(lease_token=token, leased_until=now + lease)
        .returning(alert_subscriptions)
    )
    return result.all()


async def record_delivery(session: AsyncSession, values: dict[str, Any]) -> int:
    """Records one delivery attempt; returns which attempt at this alert it was."""
    previous = (
        select(func.coalesce(func.max(alert_deliveries.c.attempt), 0) + 1)
        .where(
            alert_deliveries.c.subscription_id == values["subscription_id"],
            alert_deliveries.c.seq == values["seq"],
        )
        .scalar_subquery()
    )
    attempt: int = await session.scalar(
        insert(alert_deliveries).values(**values, attempt=previous).returning(alert_deliveries.c.attempt)
    )
    return attempt


async def update_leased(
    session: AsyncSession, *, subscription_id: UUID, token: UUID, lease: timedelta, suspend: str | None, **values: Any
) -> Row[Any] | None:
    """Notes a delivery's outcome on a subscription this deliverer still holds (None: the lease was lost), renewing
    the lease; with `suspend`, suspends it for that reason unless a person deactivated it meanwhile."""
    subs = alert_subscriptions.c
    if suspend is not None:
        active = subs.status == "active"
        values |= {
            "status": case((active, "suspended"), else_=subs.status),
            "suspended_at": case((active, func.now()), else_=subs.suspended_at),
            "suspended_reason": case((active, suspend[:200]), else_=subs.suspended_reason),
        }
    result: Result[Any] = await session.execute(
        update(alert_subscriptions)
        .where(subs.subscription_id == subscription_id, subs.lease_token == token)
        .values(updated_at=func.now(), leased_until=func.now() + lease, **values)
        .returning(alert_subscriptions)
    )
    return result.first()


async def release_lease(session: AsyncSession, *, subscription_id: UUID, token: UUID, **values: Any) -> None:
    """Gives a subscription back for any deliverer to take next time it is due."""
    await session.execute(
        update(alert_subscriptions)
        .where(alert_subscriptions.c.subscription_id == subscription_id, alert_subscriptions.c.lease_token == token)
        .values(lease_token=None, leased_until=None, **values)
    )
