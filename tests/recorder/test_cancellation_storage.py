"""Storing cancellation requests on one pooled connection, as a long-running recorder does (issue 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.recorder import repository


def _request(crime_reference: str) -> dict[str, object]:
    return {
        "request_id": uuid.uuid4(),
        "crime_reference": crime_reference,
        "contact_id": uuid.uuid4(),
        "force": "GMP",
        "code": "C4",
        "grounds": {"code": "C4", "explanation": "x", "error": "y"},
        "requested_by": {"principal": "p", "roles": ["officer"], "force": "GMP"},
        "requested_at": datetime.now(UTC),
        "victim_informed": False,
        "victim_informed_at": None,
        "status": "pending",
    }


async def test_one_connection_stores_request_after_request(db: AsyncEngine) -> None:
    # Regression: PostgreSQL plans a prepared statement afresh five times, then tries a generic plan, so the sixth
    # insert on a connection is the first one planned without the value of `status`. With the partial index's
    # predicate as a bind parameter, ON CONFLICT then matched no index and the insert failed.
    prefix = f"TST-{uuid.uuid4().hex[:6].upper()}"
    async with AsyncSession(db) as session:
        transaction = await session.begin()
        try:
            stored = [
                await repository.insert_cancellation_request(session, _request(f"{prefix}-{i}")) for i in range(8)
            ]
            # The partial unique index still keeps one open request per crime.
            again = await repository.insert_cancellation_request(session, _request(f"{prefix}-0"))
        finally:
            await transaction.rollback()
    assert stored == [True] * 8
    assert again is False
