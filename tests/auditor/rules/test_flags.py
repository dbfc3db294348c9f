"""What a supervisor's filters mean: severities at or above a minimum, rules once each."""

from __future__ import annotations

import pytest

from services.auditor.rules.flags import Rule, Severity, at_or_above, rule_values


@pytest.mark.parametrize(
    ("minimum", "expected"),
    [
        (Severity.LOW, ["low", "medium", "high", "critical"]),
        (Severity.MEDIUM, ["medium", "high", "critical"]),
        ("high", ["high", "critical"]),  # as a subscription stores it
        (Severity.CRITICAL, ["critical"]),
    ],
)
def test_a_minimum_severity_takes_in_everything_more_urgent(minimum: Severity | str, expected: list[str]) -> None:
    assert at_or_above(minimum) == expected


def test_an_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError):
        at_or_above("urgent")


def test_rules_asked_for_are_named_once_in_a_stable_order() -> None:
    asked = [Rule.LATE_RECORD, Rule.DOWNGRADE, Rule.LATE_RECORD]
    assert rule_values(asked) == ["DOWNGRADE", "LATE_RECORD"]
    assert rule_values(None) is None and rule_values([]) is None
