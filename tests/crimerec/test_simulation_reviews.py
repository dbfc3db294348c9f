"""The evaluation of the screening rules, with plain data: HIDDEN_CRIME_UNREVIEWED and a late review's LATE_RECORD
are expected from what the screener said and what the simulated supervisors did, whatever the screener got right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crimerec.simulation.evaluate import AuditorView, evaluate, passed, screening_breaches
from services.auditor.rules.statistics import REPORTED_GROUPS

T = datetime(2016, 3, 1, 10, tzinfo=UTC)
DEADLINE = T + timedelta(hours=24)


def _contact(kind: str, contact_id: str, *, discloses: bool, should: list[str] | None = None) -> dict[str, Any]:
    return {
        "kind": kind, "contact_id": contact_id, "received_at": T.isoformat(),
        "recorded_at_first_contact": kind in {"recorded", "transferred"},
        "narrative": {"discloses_crime": discloses, "family": "violence" if discloses else None},
        "should": should or [], "correct": [], "breaches": [], "cancellation": None,
    }  # fmt: skip


def _review(contact_id: str, at: datetime, action: str) -> dict[str, Any]:
    return {"contact_id": contact_id, "reviewed_at": at.isoformat(), "action": action,
            "crimes": 1 if action == "record" else 0, "on_time": at <= DEADLINE}  # fmt: skip


TRUTH: dict[str, Any] = {
    "profile": "default", "force": "GMP", "start": T.isoformat(), "end": (T + timedelta(days=3)).isoformat(),
    "contacts": {
        "ON": _contact("hidden_in_narrative", "c-on", discloses=True, should=["violence"]),
        "LATE": _contact("hidden_in_narrative", "c-late", discloses=True, should=["violence"]),
        "NEVER": _contact("hidden_in_narrative", "c-never", discloses=True, should=["violence"]),
        # The screener was wrong: a non-crime screened positive, confirmed late; still a breach of the review duty.
        "WRONG": _contact("non_crime", "c-wrong", discloses=False),
        "NEG": _contact("non_crime", "c-neg", discloses=False),
        "MISSED": _contact("hidden_in_narrative", "c-missed", discloses=True, should=["violence"]),
    },
    "screening_reviews": {
        "ON": _review("c-on", T + timedelta(hours=5), "record"),
        "LATE": _review("c-late", DEADLINE + timedelta(hours=3), "record"),
        "WRONG": _review("c-wrong", DEADLINE + timedelta(hours=1), "confirm_non_crime"),
    },
}  # fmt: skip
SCREENING = {
    cid: {"positive": cid not in {"c-neg", "c-missed"}, "families": ["violence"], "reviewed_at": None}
    for cid in ("c-on", "c-late", "c-never", "c-wrong", "c-neg", "c-missed")
}


def test_breaches_follow_the_screener_and_the_supervisors() -> None:
    assert sorted(screening_breaches(TRUTH, SCREENING)) == [
        ("HIDDEN_CRIME_UNREVIEWED", "LATE", DEADLINE),
        ("HIDDEN_CRIME_UNREVIEWED", "NEVER", DEADLINE),
        ("HIDDEN_CRIME_UNREVIEWED", "WRONG", DEADLINE),
        ("LATE_RECORD", "LATE", DEADLINE + timedelta(hours=3)),
    ]


def _view(clock: datetime, flags: list[tuple[str, str]]) -> AuditorView:
    rate = {"rate": 1.0, "ci_low": 0.5, "ci_high": 1.0, "numerator": 2, "denominator": 2}
    return AuditorView(
        clock=clock,
        flags=[{"rule": rule, "contact_id": cid} for rule, cid in flags],
        recording={"recording_rate": {g: rate for g in REPORTED_GROUPS}, "recorded_crime_12_months": 2,
                   "unrecorded_crimes_per_year": 0},
        cancellations={"categories": []},
        rate_to=T + timedelta(hours=1),
    )  # fmt: skip


def _row(result: dict[str, Any], rule: str) -> dict[str, Any]:
    return next(r for r in result["rules"] if r["rule"] == rule)


def test_the_new_rules_are_scored_exactly_like_every_other() -> None:
    exact = [("HIDDEN_CRIME_UNREVIEWED", "c-late"), ("HIDDEN_CRIME_UNREVIEWED", "c-never"),
             ("HIDDEN_CRIME_UNREVIEWED", "c-wrong"), ("LATE_RECORD", "c-late")]  # fmt: skip
    result = evaluate(TRUTH | {"screening": SCREENING}, _view(T + timedelta(days=3), exact))
    hidden = _row(result, "HIDDEN_CRIME_UNREVIEWED")
    assert (hidden["injected"], hidden["true_positives"], hidden["false_positives"]) == (3, 3, 0)
    assert _row(result, "LATE_RECORD")["true_positives"] == 1
    assert passed(result) == []
    assert result["screening_reviews"] == {
        "screened_positive": 4, "reviewed_on_time": 1, "reviewed_late": 2, "recorded_late": 1,
        "crimes_recorded_by_review": 2, "unreviewed": 4,
    }  # fmt: skip

    # A flag on the one reviewed in time is a false positive; none on the one never reviewed is a miss.
    wrong = [f for f in exact if f[1] != "c-never"] + [("HIDDEN_CRIME_UNREVIEWED", "c-on")]
    result = evaluate(TRUTH | {"screening": SCREENING}, _view(T + timedelta(days=3), wrong))
    hidden = _row(result, "HIDDEN_CRIME_UNREVIEWED")
    assert (hidden["false_positives"], hidden["false_negatives"]) == (1, 1)
    assert hidden["false_positive_examples"] == ["ON"] and hidden["false_negative_examples"] == ["NEVER"]
    assert "HIDDEN_CRIME_UNREVIEWED: 1 false positives, 1 missed" in passed(result)


def test_nothing_is_expected_before_the_auditor_clock_reaches_it() -> None:
    result = evaluate(TRUTH | {"screening": SCREENING}, _view(DEADLINE - timedelta(minutes=1), []))
    assert _row(result, "HIDDEN_CRIME_UNREVIEWED")["injected"] == 0 and _row(result, "LATE_RECORD")["injected"] == 0


def test_a_hidden_crime_recorded_by_a_review_counts_as_recorded_and_visible() -> None:
    result = evaluate(TRUTH | {"screening": SCREENING}, _view(T + timedelta(days=3), []))
    overall = result["recording_rate"]["overall"]
    # Four hidden crimes should be recorded; the reviews recorded two, which the events show.
    assert (overall["true_should"], overall["true_rate"]) == (4, 0.5)
    assert (overall["true_should_visible_in_events"], overall["true_rate_visible_in_events"]) == (2, 1.0)
    assert result["hidden_in_narrative"]["recorded_by_review"] == 2
