"""The inspectorate's measures, checked against worked values and the published figures."""

from __future__ import annotations

import pytest

from services.auditor.rules.statistics import (
    CrimeOutcome,
    RecordingTally,
    cancellations_judged,
    unrecorded_per_year,
    wilson,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # textbook Wilson 95% values
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 1, 0.2065, 1.0),
    ],
)
def test_wilson_interval_matches_worked_values(successes: int, trials: int, low: float, high: float) -> None:
    p = wilson(successes, trials)
    assert p.low == pytest.approx(low, abs=1e-4)
    assert p.high == pytest.approx(high, abs=1e-4)
    assert p.low <= p.rate <= p.high  # type: ignore[operator]


def test_wilson_with_nothing_to_measure_says_so() -> None:
    assert wilson(0, 0).rate is None and wilson(0, 0).margin is None


def test_wilson_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_kent_2017_margin_is_reproduced_by_a_sample_of_its_size() -> None:
    # Kent 2017: 83.6% ± 1.85%. A sample of about 1,540 crimes at that rate gives that margin.
    p = wilson(1287, 1540)
    assert p.rate == pytest.approx(0.836, abs=0.001)
    assert p.margin == pytest.approx(0.0185, abs=0.001)


@pytest.mark.parametrize(
    ("force", "rate", "recorded", "published"),
    [
        ("Greater Manchester", 0.8549, 224_000, 38_000),
        ("Kent", 0.836, 124_000, 24_300),
        ("West Midlands", 0.838, 200_000, 38_800),
    ],
)
def test_unrecorded_crimes_a_year_reproduce_the_published_figures(
    force: str, rate: float, recorded: int, published: int
) -> None:
    assert unrecorded_per_year(recorded, rate) == pytest.approx(published, rel=0.02), force


def test_no_estimate_without_a_rate() -> None:
    assert unrecorded_per_year(1000, None) is None
    assert unrecorded_per_year(1000, 0.0) is None


V = "violence"


@pytest.mark.parametrize(
    ("required", "crimes", "should", "correct"),
    [
        pytest.param([V], [CrimeOutcome(V, "recorded", True)], 1, 1, id="recorded-as-required"),
        pytest.param([V, V], [CrimeOutcome(V, "recorded", True)], 2, 1, id="under-counted"),
        pytest.param([V], [], 1, 0, id="not-recorded"),
        pytest.param([], [CrimeOutcome(V, "recorded", True)], 1, 1, id="person-found-a-crime-the-facts-did-not-show"),
        pytest.param([V], [CrimeOutcome(V, "cancelled", True, removal_correct=True)], 0, 0, id="rightly-cancelled"),
        pytest.param([V], [CrimeOutcome(V, "cancelled", True, removal_correct=False)], 1, 0, id="wrongly-cancelled"),
        pytest.param([V], [CrimeOutcome(V, "transferred", True)], 1, 1, id="transferred-counts-as-recorded"),
        pytest.param([V], [CrimeOutcome(V, "recorded", False)], 1, 1, id="late-but-recorded"),
    ],
)
def test_a_contact_tallies_what_should_and_what_was_recorded(
    required: list[str], crimes: list[CrimeOutcome], should: int, correct: int
) -> None:
    tally = RecordingTally()
    tally.add_contact(required, crimes)
    assert tally.should[V] == should
    assert tally.correct[V] == correct


def test_rates_by_reported_group_and_within_limit() -> None:
    tally = RecordingTally()
    tally.add_contact(["rape"], [CrimeOutcome("rape", "recorded", True)])
    tally.add_contact(["other_sexual"], [])
    tally.add_contact(["violence", "violence"], [CrimeOutcome("violence", "recorded", False)])
    tally.add_contact(["other"], [CrimeOutcome("other", "recorded", True)])
    assert (tally.rate("rape").successes, tally.rate("rape").trials) == (1, 1)
    assert (tally.rate("sexual_offences").successes, tally.rate("sexual_offences").trials) == (1, 2)
    assert (tally.rate("violence").successes, tally.rate("violence").trials) == (1, 2)
    assert (tally.rate("overall").successes, tally.rate("overall").trials) == (3, 5)
    assert (tally.within_limit().successes, tally.within_limit().trials) == (2, 3)


def test_cancellations_are_judged_x_of_n_in_each_of_the_four_audit_categories() -> None:
    # The 2016 GMP dip sample: 18 of 20 rapes, 10 of 20 violent crimes, 15 of 22 robberies cancelled correctly.
    removals = [("rape", True)] * 18 + [("rape", False)] * 2 + [("violence", True)] * 10 + [("violence", None)] * 10
    removals += [("robbery", True)] * 15 + [("robbery", False)] * 7 + [("other", False)] * 3
    table = {category: (p.successes, p.trials) for category, p in cancellations_judged(iter(removals))}
    assert list(table) == ["rape", "other_sexual", "violence", "robbery"]  # the inspectorate's order; "other" left out
    assert table == {"rape": (18, 20), "other_sexual": (0, 0), "violence": (10, 20), "robbery": (15, 22)}
