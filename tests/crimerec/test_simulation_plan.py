"""The simulation's plan: seeded, valid contacts, and the profile's recording rates in the truth."""

from __future__ import annotations

from datetime import UTC, datetime

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
