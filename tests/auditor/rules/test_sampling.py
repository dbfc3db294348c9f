"""Sample audits draw the same sample from the same population and seed, in proportion to each stratum."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.catalogue import OffenceCatalogue
from services.auditor.rules.sampling import draw_sample, stratum_of

POPULATION = [(f"c{i:04d}", "violence" if i % 10 < 6 else "other" if i % 10 < 9 else "rape") for i in range(1000)]


def test_the_same_seed_draws_the_same_sample_whatever_the_row_order() -> None:
    one = draw_sample(POPULATION, size=100, seed=7, stratify=True)
    two = draw_sample(list(reversed(POPULATION)), size=100, seed=7, stratify=True)
    assert one == two
    assert draw_sample(POPULATION, size=100, seed=8, stratify=True) != one


def test_stratified_shares_follow_the_population() -> None:
    sample = draw_sample(POPULATION, size=100, seed=1, stratify=True)
    assert Counter(stratum for _, stratum in sample) == {"violence": 60, "other": 30, "rape": 10}


def test_a_rare_stratum_is_not_left_out_by_chance() -> None:
    population = [(f"c{i}", "other") for i in range(999)] + [("rape-1", "rape")]
    sample = draw_sample(population, size=10, seed=3, stratify=True)
    assert ("rape-1", "rape") in sample
    assert len(sample) == 10


def test_a_sample_larger_than_the_population_takes_everyone() -> None:
    assert draw_sample(POPULATION[:5], size=50, seed=1, stratify=True) == sorted(POPULATION[:5])


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=5), st.sampled_from(["a", "b", "c", "d"])), unique=True),
    st.integers(1, 60),
    st.integers(0, 2**32),
    st.booleans(),
)
def test_a_sample_is_the_asked_size_without_repeats_from_the_population(
    population: list[tuple[str, str]], size: int, seed: int, stratify: bool
) -> None:
    sample = draw_sample(population, size=size, seed=seed, stratify=stratify)
    assert len(sample) == min(size, len(population))
    assert len(set(sample)) == len(sample)
    assert set(sample) <= set(population)


@pytest.mark.parametrize(
    ("classes", "stratum"),
    [(["8N"], "violence"), (["105A", "19C"], "rape"), (["28E"], "other"), ([], "none"), (["ZZZ"], "none")],
)
def test_a_contact_falls_in_the_stratum_of_its_most_serious_offence(classes: list[str], stratum: str) -> None:
    assert stratum_of(classes, OffenceCatalogue.default()) == stratum
