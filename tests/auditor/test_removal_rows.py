"""A stored removal the auditor reads back for its victim-notice sweep: a row without grounds (an older writer, a
hand-made row) is read as a removal with no grounds, never a KeyError that would stall every later sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.auditor.rules import cancellations
from services.auditor.rules.policy import AuditPolicy
from services.auditor.service import _removal_fact

AT = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


def _row(detail: dict[str, object]) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(), "kind": "cancelled", "crime_reference": "GMP-2026-000001",
        "contact_id": uuid.uuid4(), "force": "GMP", "ho_class": "8N", "audit_category": "violence", "code": "C2",
        "removed_at": AT, "victim_told": False, "detail": detail,
    }  # fmt: skip


def test_a_row_without_grounds_is_a_removal_with_none() -> None:
    removal = _removal_fact(_row({"request_id": str(uuid.uuid4())}))
    assert removal.grounds == {}
    later = AT + timedelta(days=30)
    flags = cancellations.victim_not_told(removal, notified_at=[], now=later, policy=AuditPolicy())
    assert [f.rule.value for f in flags] == ["CANCELLATION_VICTIM_NOT_TOLD"]


def test_stored_grounds_are_read_as_stored() -> None:
    grounds = {"code": "C2", "explanation": "CCTV shows the victim fell"}
    assert _removal_fact(_row({"grounds": grounds})).grounds == grounds
