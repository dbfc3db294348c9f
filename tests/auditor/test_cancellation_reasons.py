"""Cancellations as the inspectorate reports them, by reason: removals stored in the auditor's real database for a
force no other test uses (SUF), read back through `GET /v1/stats/cancellations`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crimerec import stack
from schemas.events import Role
from services.auditor import repository
from services.runtime.settings import EngineSettings
from tests.conftest import Services

FORCE = "SUF"
AT = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)

# (code, audit category, judged correct, decided by a person)
REMOVALS = [
    ("C2", "violence", True, True),
    ("C2", "violence", False, True),
    ("C2", "rape", False, True),
    ("C4", "robbery", True, True),
    ("C1", "other_sexual", True, True),
    ("C4", "violence", False, False),  # removed by the rules, not a person's decision: not in the table
]


async def test_cancellations_are_reported_x_of_n_correct_by_reason(
    services: Services, engines: EngineSettings, db: AsyncEngine
) -> None:
    keys = await stack.issue_keys(engines, force=FORCE, roles=[Role.AUDITOR], label="cancellation-reason-tests")
    async with AsyncSession(db) as session, session.begin():
        for i, (code, category, correct, by_person) in enumerate(REMOVALS):
            await repository.insert_removal(
                session, event_id=uuid.uuid4(), crime_reference=f"SUF-{i}-{uuid.uuid4().hex[:8]}",
                contact_id=uuid.uuid4(), force=FORCE, kind="transferred" if code == "C1" else "cancelled",
                code=code, audit_category=category, ho_class="8N", removed_at=AT + timedelta(hours=i),
                notify_by=AT + timedelta(days=2), victim_told=True, judged_correct=correct,
                # Stored as the auditor stores a removal, its notice already judged: the shared auditor's deadline
                # sweep must find nothing here to judge (a row it cannot read stalls every sweep after it).
                notice_checked=True,
                detail={"grounds": {"code": code, "explanation": "a test removal"}}
                | ({"request_id": str(uuid.uuid4())} if by_person else {}),
            )  # fmt: skip
    period = {"from": (AT - timedelta(days=1)).isoformat(), "to": (AT + timedelta(days=1)).isoformat()}
    r = await services.auditor.get(
        "/v1/stats/cancellations", params=period, headers={"Authorization": f"Bearer {keys['auditor']}"}
    )
    assert r.status_code == 200, r.text
    reasons = {row["code"]: row for row in r.json()["by_reason"]}
    assert list(reasons) == ["C1", "C2", "C3", "C4"]
    assert reasons["C2"]["summary"] == "1 of 3 correct" and reasons["C2"]["cancellations"] == 3
    assert reasons["C4"]["summary"] == "1 of 1 correct"
    assert reasons["C1"]["summary"] == "1 of 1 correct" and "transferred" in reasons["C1"]["reason"]
    assert reasons["C3"]["cancellations"] == 0 and reasons["C3"]["correct_rate"]["rate"] is None
    c2 = {row["audit_category"]: row["summary"] for row in reasons["C2"]["categories"]}
    assert c2 == {"rape": "0 of 1 correct", "other_sexual": "0 of 0 correct", "violence": "1 of 2 correct",
                  "robbery": "0 of 0 correct"}  # fmt: skip
    # The by-category table is the sum over the reasons.
    categories = {row["audit_category"]: row["summary"] for row in r.json()["categories"]}
    assert categories["violence"] == "1 of 2 correct" and categories["robbery"] == "1 of 1 correct"
