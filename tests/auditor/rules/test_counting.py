"""Where a contact stands as the auditor shows it, from what it has seen of the report, decision and crimes."""

from __future__ import annotations

import pytest

from services.auditor.rules.counting import recording_status


@pytest.mark.parametrize(
    ("reported", "outcome", "expected", "recorded", "status"),
    [
        (False, "recorded", None, 1, "awaiting_report"),  # a decision and a crime seen, the report not yet
        (False, None, None, 0, "awaiting_report"),
        (True, None, 1, 0, "awaiting_decision"),
        (True, "cri", 1, 0, "decided"),
        (True, "n100", 1, 0, "decided"),
        (True, "recorded", 2, 1, "under_recorded"),  # HOCR section D: one crime per victim
        (True, "recorded", 1, 0, "not_recorded"),
        (True, "recorded", 2, 2, "recorded"),
        (True, "recorded", 1, 3, "recorded"),
        (True, "recorded", None, 0, "recorded"),  # nothing the counting rules could require
    ],
)
def test_the_status_of_an_audited_contact(
    reported: bool, outcome: str | None, expected: int | None, recorded: int, status: str
) -> None:
    assert recording_status(reported=reported, outcome=outcome, expected=expected, recorded=recorded) == status
