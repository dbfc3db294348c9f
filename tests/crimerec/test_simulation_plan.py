"""The simulation's plan: seeded, valid contacts, and the profile's recording rates in the truth."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from crimerec.simulation.plan import Profile, plan, shipped_profiles
from schemas.contacts import ContactCreate

START = datetime(2016, 3, 1, tzinfo=UTC)


def _rate(contacts: list, category: str | None = None) -> float:
    should = sum(1 for c in contacts for k in c.should if category in (None, k))
    correct = sum(1 for c in contacts for k in c.correct if category in (None, k))
    return correct / should


def test_the_shipped_profiles_load() -> None:
    assert {"default", "gmp-2016"} <= set(shipped_profiles())
    for name in shipped_profiles():
        assert Profile.load(name).name == name


def test_an_unknown_profile_is_refused_with_the_shipped_names() -> None:
    with pytest.raises(ValueError, match="gmp-2016"):
        Profile.load("nowhere")


def test_the_same_seed_plans_the_same_simulation_and_another_seed_another() -> None:
    profile = Profile.load("default")
    one = plan(profile, seed=3, force="GMP", start=START, days=2, run="a")
    two = plan(profile, seed=3, force="GMP", start=START, days=2, run="a")
    other = plan(profile, seed=4, force="GMP", start=START, days=2, run="a")
    assert one.truth() == two.truth()
    assert one.truth() != other.truth()


def test_every_contact_is_one_intake_accepts_and_every_step_is_in_the_period_in_order() -> None:
    the_plan = plan(Profile.load("default"), seed=1, force="GMP", start=START, days=3, run="a")
    for contact in the_plan.contacts:
        ContactCreate.model_validate(contact.body)
        assert START <= contact.received_at < the_plan.end
    times = [s.at for s in the_plan.steps]
    assert times == sorted(times) and all(START <= t < the_plan.end for t in times)


def test_gmp_2016_over_thirty_days_has_the_inspectorates_recording_rates() -> None:
    the_plan = plan(Profile.load("gmp-2016"), seed=1, force="GMP", start=START, days=30, run="a")
    assert _rate(the_plan.contacts) == pytest.approx(0.8549, abs=0.01)
    assert _rate(the_plan.contacts, "violence") == pytest.approx(0.7536, abs=0.015)
    kinds = {c.kind for c in the_plan.contacts}
    assert kinds == {"recorded", "third_party", "hidden_in_narrative", "non_crime", "transferred"}


# ------------------------------------------------------------------------------------------------ narratives

SCREENED_FAMILIES = {
    "violence", "sexual", "threats_harassment", "domestic_abuse", "theft_robbery", "criminal_damage",
    "modern_slavery", "fraud",
}  # fmt: skip
ALARMING = ("kill", "attacked", "shot", "hurt", "stabbing", "gun", "robbed", "bleeding", "screaming", "murder")


@functools.cache
def _month() -> Any:
    return plan(Profile.load("gmp-2016"), seed=1, force="GMP", start=START, days=30, run="a")


def test_the_truth_says_for_every_contact_whether_its_narrative_discloses_a_crime_and_of_which_family() -> None:
    truth = plan(Profile.load("default"), seed=2, force="GMP", start=START, days=3, run="a").truth()
    for contact in truth["contacts"].values():
        narrative = contact["narrative"]
        assert set(narrative) == {"discloses_crime", "family"}
        assert (narrative["family"] is not None) == narrative["discloses_crime"]
        assert contact["recorded_at_first_contact"] == (contact["kind"] in {"recorded", "transferred"})
        if contact["kind"] in {"recorded", "transferred", "third_party", "hidden_in_narrative"}:
            assert narrative["discloses_crime"], contact
        if narrative["discloses_crime"] and contact["kind"] == "non_crime":
            # Fraud is Action Fraud's to record: the force owes no crime for it.
            assert narrative["family"] == "fraud" and contact["should"] == []


def test_the_same_seed_writes_the_same_narratives_and_another_seed_others() -> None:
    profile = Profile.load("default")
    one, two, other = (plan(profile, seed=s, force="GMP", start=START, days=2, run="a") for s in (3, 3, 4))
    assert [c.body["narrative"] for c in one.contacts] == [c.body["narrative"] for c in two.contacts]
    assert [c.body["narrative"] for c in one.contacts] != [c.body["narrative"] for c in other.contacts]


def test_a_month_plants_every_family_hidden_in_narratives_told_several_ways() -> None:
    the_plan = _month()
    hidden = [c for c in the_plan.contacts if c.kind == "hidden_in_narrative"]
    assert all(c.body["incident"]["category"] in {"asb", "public_safety"} for c in hidden)
    not_recorded_at_first = [c for c in the_plan.contacts if c.kind in {"hidden_in_narrative", "non_crime"}]
    disclosed = {c.narrative.family for c in not_recorded_at_first if c.narrative.discloses_crime}
    assert disclosed == SCREENED_FAMILIES
    by_family: dict[str, set[str]] = {}
    for contact in hidden:
        assert contact.narrative.family is not None
        by_family.setdefault(contact.narrative.family, set()).add(contact.body["narrative"])
    for family, texts in by_family.items():
        assert len(texts) >= 3, (family, texts)


def test_non_crime_narratives_use_alarming_words_and_disclose_nothing() -> None:
    the_plan = _month()
    distractors = [c for c in the_plan.contacts if c.kind == "non_crime" and not c.narrative.discloses_crime]
    assert all(c.should == [] and c.narrative.family is None for c in distractors)
    alarming = {c.body["narrative"] for c in distractors if any(w in c.body["narrative"].lower() for w in ALARMING)}
    assert len(alarming) >= 10
    for category in ("asb", "public_safety", "transport"):
        texts = {c.body["narrative"] for c in distractors if c.body["incident"]["category"] == category}
        assert len(texts) >= 5, category


def test_narratives_give_no_template_away_and_fill_every_slot() -> None:
    the_plan = _month()
    texts = [c.body["narrative"] for c in the_plan.contacts]
    assert not [t for t in texts if "{" in t or "}" in t]
    crimes = [c.body["narrative"] for c in the_plan.contacts if c.narrative.discloses_crime]
    others = [c.body["narrative"] for c in the_plan.contacts if not c.narrative.discloses_crime]
    # No single opening words mark the crimes: the most common opening of crime narratives covers a small share.
    openings = Counter(" ".join(t.split()[:2]) for t in crimes)
    assert openings.most_common(1)[0][1] < 0.15 * len(crimes), openings.most_common(3)
    # Log references appear on both sides, so they tell a screener nothing.
    cited = ("Ref ", "(see log ", "CAD ", "Linked to incident ")
    assert any(any(r in t for r in cited) for t in crimes) and any(any(r in t for r in cited) for t in others)
