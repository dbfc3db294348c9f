"""All of the console's SQL: sessions, the alert workflow's history, the audits drawn from the console."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.console.models import alert_actions, sample_audits, sessions


async def insert_session(session: AsyncSession, values: dict[str, Any]) -> None:
    """Stores a new sign-in."""
    await session.execute(insert(sessions).values(**values))


async def live_session(session: AsyncSession, *, session_sha256: bytes, now: datetime) -> Row[Any] | None:
    """A sign-in that has neither expired nor ended."""
    return (
        await session.execute(
            select(sessions).where(
                sessions.c.session_sha256 == session_sha256,
                sessions.c.ended_at.is_(None),
                sessions.c.expires_at > now,
            )
        )
    ).first()


async def end_session(session: AsyncSession, *, session_sha256: bytes, now: datetime, why: str) -> None:
    """Ends a sign-in (signed out, key revoked)."""
    await session.execute(
        update(sessions)
        .where(sessions.c.session_sha256 == session_sha256, sessions.c.ended_at.is_(None))
        .values(ended_at=now, ended_why=why)
    )


async def insert_alert_action(session: AsyncSession, values: dict[str, Any]) -> None:
    """Adds one step (acknowledged, resolved) to the alert workflow's append-only history."""
    await session.execute(insert(alert_actions).values(**values))


async def alert_actions_of(session: AsyncSession, *, force: str, flag_ids: Sequence[int]) -> list[Row[Any]]:
    """The console's history of these flags, oldest first."""
    if not flag_ids:
        return []
    return list(
        (
            await session.execute(
                select(alert_actions)
                .where(alert_actions.c.force == force, alert_actions.c.flag_id.in_(list(flag_ids)))
                .order_by(alert_actions.c.action_id)
            )
        ).all()
    )


async def insert_sample_audit(session: AsyncSession, values: dict[str, Any]) -> None:
    """Remembers an audit drawn from the console, so the force's audits can be listed."""
    await session.execute(insert(sample_audits).values(**values))


async def sample_audits_of(session: AsyncSession, *, force: str, limit: int = 100) -> list[Row[Any]]:
    """The force's sample audits, newest first."""
    return list(
        (
            await session.execute(
                select(sample_audits)
                .where(sample_audits.c.force == force)
                .order_by(sample_audits.c.created_at.desc())
                .limit(limit)
            )
        ).all()
    )


async def get_sample_audit(session: AsyncSession, audit_id: UUID) -> Row[Any] | None:
    """One audit drawn from the console."""
    return (await session.execute(select(sample_audits).where(sample_audits.c.audit_id == audit_id))).first()
