"""The auditor's SQL for sample audits: an audit, its sampled contacts and the auditor's judgement on each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from services.auditor.models import audit_items, audits


async def insert_audit(session: AsyncSession, audit: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
    """Stores a sample audit and its items."""
    await session.execute(insert(audits).values(**audit))
    if items:
        await session.execute(insert(audit_items), list(items))


async def get_audit(session: AsyncSession, audit_id: UUID) -> tuple[Row[Any] | None, Sequence[Row[Any]]]:
    """A sample audit and its items in order."""
    audit = (await session.execute(select(audits).where(audits.c.audit_id == audit_id))).first()
    items = (
        await session.execute(
            select(audit_items).where(audit_items.c.audit_id == audit_id).order_by(audit_items.c.item_no)
        )
    ).all()
    return audit, items


async def judge_item(session: AsyncSession, *, audit_id: UUID, item_no: int, **values: Any) -> bool:
    """Records an auditor's judgement on one sampled contact; False when there is no such item."""
    result = await session.execute(
        update(audit_items).where(audit_items.c.audit_id == audit_id, audit_items.c.item_no == item_no).values(**values)
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result: it has the row count
    return bool(result.rowcount)
