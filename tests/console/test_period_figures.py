"""The compliance page adds its weeks' figures up: the sum must be what the auditor answers for the whole period,
the interval widened for undecided positive screens included (plain data, the auditor's own rules as the judge)."""

from __future__ import annotations

import pytest

from services.auditor.rules.statistics import bounded, wilson
from services.auditor.schemas import recording_rate_read
from services.console.presenters import whole_period

WEEKS = [(3, 4, 0), (10, 12, 2), (0, 0, 1), (7, 7, 0)]  # (recorded, should be, undecided screens) a week


def _week(recorded: int, should: int, undecided: int) -> dict[str, object]:
    rate = recording_rate_read(bounded(wilson(recorded, should), undecided)).model_dump()
    return {
        "recording_rate": {"overall": rate},
        "recorded_within_limit": recording_rate_read(bounded(wilson(recorded, should), 0)).model_dump(),
        "recorded_crime_12_months": 1000,
    }


@pytest.mark.parametrize("weeks", [WEEKS, WEEKS[:1], [(5, 9, 0), (1, 2, 0)]])
def test_the_weeks_added_up_are_the_auditors_whole_period(weeks: list[tuple[int, int, int]]) -> None:
    whole = whole_period([_week(*w) for w in weeks])["recording_rate"]["overall"]
    recorded, should, undecided = (sum(w[i] for w in weeks) for i in range(3))
    expected = recording_rate_read(bounded(wilson(recorded, should), undecided)).model_dump()
    for field in ("numerator", "denominator", "rate", "ci_low", "ci_high", "margin", "undecided_screened_positive",
                  "rate_if_undecided_are_crimes", "decided_ci_low"):  # fmt: skip
        assert whole[field] == pytest.approx(expected[field]), field
