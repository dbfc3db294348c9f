"""The inspectorate's own method: a reproducible random sample of incidents, optionally stratified by category."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from schemas.catalogue import OffenceCatalogue


def draw_sample(
    population: Sequence[tuple[str, str]], *, size: int, seed: int, stratify: bool
) -> list[tuple[str, str]]:
    """`size` (id, stratum) pairs drawn from the population; the same population and seed give the same sample.

    Stratified, each stratum gets a share proportional to its size (largest remainders), at least one where it
    has any members and room allows, so a rare category such as rape is not missed by chance.
    """
    ordered = sorted(population)  # the draw must not depend on the order rows came out of the database
    if size >= len(ordered):
        return ordered
    rng = random.Random(seed)
    if not stratify:
        return sorted(rng.sample(ordered, size))
    strata: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item in ordered:
        strata[item[1]].append(item)
    names = sorted(strata)
    exact = {name: size * len(strata[name]) / len(ordered) for name in names}
    shares = {name: int(exact[name]) for name in names}
    for name in names:  # no stratum left out while there is room
        if shares[name] == 0 and sum(shares.values()) < size:
            shares[name] = 1
    remainders = sorted(names, key=lambda n: (exact[n] - int(exact[n]), n), reverse=True)
    i = 0
    while sum(shares.values()) < size:
        name = remainders[i % len(remainders)]
        if shares[name] < len(strata[name]):
            shares[name] += 1
        i += 1
    while sum(shares.values()) > size:  # the minimum of one can overshoot when strata outnumber the sample
        largest = max(names, key=lambda n: (shares[n], n))
        shares[largest] -= 1
    sample: list[tuple[str, str]] = []
    for name in names:
        sample.extend(rng.sample(strata[name], min(shares[name], len(strata[name]))))
    return sorted(sample)


def stratum_of(reported_classes: Sequence[str], catalogue: OffenceCatalogue) -> str:
    """The stratum a contact falls in: the audit category of its most serious reported offence, else `none`."""
    principal = catalogue.principal(c for c in reported_classes if catalogue.get(c) is not None)
    offence = catalogue.get(principal) if principal else None
    return offence.audit_category.value if offence else "none"
