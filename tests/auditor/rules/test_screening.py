"""The narrative-screening rule and the recording rate's undecided screens, on plain data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.auditor.rules.flags import Rule, Severity
from services.auditor.rules.screening import ScreenFact, hidden_crime_unreviewed, reviewed_in_time
from services.auditor.rules.statistics import RecordingTally, bounded, groups_of_families, wilson

T = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEADLINE = T + timedelta(hours=24)
SCREEN = ScreenFact(
    contact_id="c-1",
    force="GMP",
    positive=True,
    score=0.91,
    families=("domestic_abuse", "violence"),
    screener_version="rules-1+model-x",
    outcome="non_crime",
    received_at=T,
    review_deadline=DEADLINE,
)


def test_hidden_crime_unreviewed_is_raised_when_the_deadline_passes_without_a_review() -> None:
    assert hidden_crime_unreviewed(SCREEN, now=DEADLINE - timedelta(seconds=1)) == []
    (flag,) = hidden_crime_unreviewed(SCREEN, now=DEADLINE)
    assert flag.rule is Rule.HIDDEN_CRIME_UNREVIEWED and flag.subject == "c-1"
    assert flag.severity is Severity.HIGH  # against the person
    assert "non_crime" in flag.explanation and "domestic_abuse, violence" in flag.explanation
    assert "0.91" in flag.explanation and DEADLINE.isoformat() in flag.explanation
    assert flag.evidence == {
        "received_at": T.isoformat(),
        "review_deadline": DEADLINE.isoformat(),
        "first_contact_outcome": "non_crime",
        "families": ["domestic_abuse", "violence"],
        "score": 0.91,
        "screener_version": "rules-1+model-x",
    }


def test_a_negative_screen_needs_no_review() -> None:
    assert hidden_crime_unreviewed(replace(SCREEN, positive=False), now=DEADLINE + timedelta(days=9)) == []


def test_a_review_by_the_deadline_meets_it_whatever_it_decided() -> None:
    for action in ("record", "confirm_non_crime"):
        on_time = replace(SCREEN, reviewed_at=DEADLINE, review_action=action)
        assert reviewed_in_time(on_time)
        assert hidden_crime_unreviewed(on_time, now=DEADLINE + timedelta(days=3)) == []


def test_a_review_after_the_deadline_does_not_undo_the_breach() -> None:
    # Judged as things stood at the deadline, by the events' own times: the late review is the cure's to tell.
    late = replace(SCREEN, reviewed_at=DEADLINE + timedelta(hours=3), review_action="record", crime_references=("X",))
    assert not reviewed_in_time(late)
    assert [f.rule for f in hidden_crime_unreviewed(late, now=late.reviewed_at)] == [Rule.HIDDEN_CRIME_UNREVIEWED]


def test_property_families_are_medium() -> None:
    (flag,) = hidden_crime_unreviewed(replace(SCREEN, families=("theft_robbery",), score=None), now=DEADLINE)
    assert flag.severity is Severity.MEDIUM and "score" not in flag.explanation
    (nameless,) = hidden_crime_unreviewed(replace(SCREEN, families=()), now=DEADLINE)
    assert "no family named" in nameless.explanation


# ------------------------------------------------------------------------------------------------ statistics


def test_families_fall_in_the_reported_groups_they_may_belong_to() -> None:
    assert groups_of_families([]) == {"overall"}
    assert groups_of_families(["theft_robbery", "fraud"]) == {"overall"}
    assert groups_of_families(["domestic_abuse"]) == {"overall", "violence"}
    assert groups_of_families(["sexual", "violence"]) == {"overall", "violence", "sexual_offences", "rape"}


def test_undecided_screens_widen_the_interval_down_to_all_of_them_being_unrecorded_crimes() -> None:
    decided = wilson(80, 100)
    rate = bounded(decided, 20)
    assert rate.decided == decided and rate.undecided == 20
    assert rate.rate_if_all_crimes == pytest.approx(80 / 120)
    assert rate.low == pytest.approx(wilson(80, 120).low) and rate.low is not None and decided.low is not None
    assert rate.low < decided.low  # every undecided contact an unrecorded crime
    assert rate.high == decided.high  # none of them a crime
    assert rate.margin == pytest.approx((rate.high - rate.low) / 2)  # type: ignore[operator]


def test_with_nothing_undecided_the_interval_is_the_wilson_interval() -> None:
    decided = wilson(80, 100)
    rate = bounded(decided, 0)
    assert (rate.low, rate.high, rate.rate_if_all_crimes, rate.margin) == (
        decided.low, decided.high, decided.rate, decided.margin,
    )  # fmt: skip


def test_undecided_with_nothing_decided_has_no_upper_bound() -> None:
    rate = bounded(wilson(0, 0), 3)
    assert rate.rate_if_all_crimes == 0 and rate.low == 0 and rate.high is None and rate.margin is None


def test_the_tally_counts_undecided_screens_by_group() -> None:
    tally = RecordingTally()
    tally.add_contact(["violence", "violence"], [])
    tally.add_undecided(["violence"])
    tally.add_undecided(["fraud"])
    assert tally.bounded_rate("overall").undecided == 2
    assert tally.bounded_rate("violence").undecided == 1
    assert tally.bounded_rate("rape").undecided == 0
    violence = tally.bounded_rate("violence")
    assert violence.decided.trials == 2 and violence.rate_if_all_crimes == 0
