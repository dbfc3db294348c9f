"""The inspectorate's measures (domain.md, How the inspectorate measures): recording rates with 95% Wilson
intervals, the share recorded within 24 hours, unrecorded crimes a year, and cancellations judged correct."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.catalogue import AuditCategory

Z95 = 1.959963984540054

# The inspectorate reports overall and for violence, sexual offences (rape and other sexual) and rape.
REPORTED_GROUPS: dict[str, frozenset[str]] = {
    "overall": frozenset(c.value for c in AuditCategory),
    "violence": frozenset({AuditCategory.VIOLENCE.value}),
    "sexual_offences": frozenset({AuditCategory.RAPE.value, AuditCategory.OTHER_SEXUAL.value}),
    "rape": frozenset({AuditCategory.RAPE.value}),
}


@dataclass(frozen=True)
class Proportion:
    """A proportion with its 95% Wilson score interval."""

    successes: int
    trials: int
    rate: float | None
    low: float | None
    high: float | None

    @property
    def margin(self) -> float | None:
        """Half the interval's width (the "± x%" the inspectorate quotes)."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2


def wilson(successes: int, trials: int, z: float = Z95) -> Proportion:
    """The proportion successes/trials with its Wilson score interval (sound for small samples and extremes)."""
    if trials <= 0:
        return Proportion(successes, trials, None, None, None)
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # The Wilson interval always contains p; rounding can put a bound a hair on the wrong side at p = 0 or 1.
    return Proportion(successes, trials, p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


# The reported groups a screen's offence families may fall in: threats, harassment, domestic abuse and modern
# slavery are violence against the person; a sexual offence the narrative discloses may be a rape.
FAMILY_GROUPS: dict[str, frozenset[str]] = {
    "violence": frozenset({"violence"}),
    "threats_harassment": frozenset({"violence"}),
    "domestic_abuse": frozenset({"violence"}),
    "modern_slavery": frozenset({"violence"}),
    "sexual": frozenset({"sexual_offences", "rape"}),
}


def groups_of_families(families: Iterable[str]) -> set[str]:
    """The reported groups a screened-positive contact may belong to (always `overall`)."""
    return {"overall"}.union(*(FAMILY_GROUPS.get(f, frozenset()) for f in families))


@dataclass(frozen=True)
class BoundedRate:
    """A recording rate when some contacts screened positive are still undecided (nobody has reviewed them): the
    rate of the decided contacts, how many are undecided, and an interval that holds both extremes — the 95% Wilson
    lower bound if every undecided contact is an unrecorded crime, and the upper bound if none is a crime."""

    decided: Proportion
    undecided: int
    rate_if_all_crimes: float | None
    low: float | None
    high: float | None

    @property
    def margin(self) -> float | None:
        """Half the interval's width."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2


def bounded(decided: Proportion, undecided: int) -> BoundedRate:
    """`decided` (correct of should) with `undecided` screened-positive contacts not yet reviewed: none of them has
    a crime recorded, so as things stand each is either not a crime (the rate stays) or an unrecorded one (it
    counts against the rate)."""
    if undecided <= 0:
        return BoundedRate(decided, 0, decided.rate, decided.low, decided.high)
    worst = wilson(decided.successes, decided.trials + undecided)
    return BoundedRate(decided, undecided, worst.rate, worst.low, decided.high)


def unrecorded_per_year(recorded_12_months: int, rate: float | None) -> float | None:
    """The inspectorate's estimate: R × (1 − r) / r, R being the force's recorded crime (excluding fraud) for the
    12 months to the end of the period. GMP 2016: r = 0.8549 and R ≈ 224,000 give about 38,000."""
    if rate is None or rate <= 0:
        return None
    return recorded_12_months * (1 - rate) / rate


@dataclass(frozen=True)
class CrimeOutcome:
    """One crime recorded from a contact, as the statistics see it."""

    audit_category: str
    status: str  # recorded | transferred | cancelled
    on_time: bool
    removal_correct: bool | None = None  # for a cancelled crime: was the cancellation judged correct


@dataclass
class RecordingTally:
    """Crimes that should have been recorded and crimes correctly recorded, by audit category."""

    should: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)
    recorded: int = 0
    on_time: int = 0
    undecided: Counter[str] = field(default_factory=Counter)  # screened positive, not reviewed, by reported group

    def add_undecided(self, families: Iterable[str]) -> None:
        """Adds a contact whose narrative screened positive for `families` and that nobody has reviewed yet."""
        self.undecided.update(groups_of_families(families))

    def add_contact(self, required: Iterable[str], crimes: Iterable[CrimeOutcome]) -> None:
        """Adds one contact: `required` are the audit categories of the crimes the standard required."""
        required_by = Counter(required)
        live: Counter[str] = Counter()
        wrongly_cancelled: Counter[str] = Counter()
        rightly_cancelled: Counter[str] = Counter()
        for crime in crimes:
            if crime.status in ("recorded", "transferred"):
                live[crime.audit_category] += 1
                self.recorded += 1
                self.on_time += crime.on_time
            elif crime.removal_correct:
                rightly_cancelled[crime.audit_category] += 1  # not a crime after all (C2), a duplicate (C3)…
            else:
                wrongly_cancelled[crime.audit_category] += 1  # counts as not recorded
        for category in set(required_by) | set(live) | set(wrongly_cancelled):
            # A person may find more crimes than the first-contact facts showed, and a correct cancellation
            # shows a required crime was not one: take whichever is larger.
            should = max(
                required_by[category] - rightly_cancelled[category], live[category] + wrongly_cancelled[category]
            )
            self.should[category] += max(should, 0)
            self.correct[category] += min(live[category], max(should, 0))

    def rate(self, group: str) -> Proportion:
        """The recording rate for one reported group (overall, violence, sexual_offences, rape)."""
        categories = REPORTED_GROUPS[group]
        return wilson(
            sum(v for k, v in self.correct.items() if k in categories),
            sum(v for k, v in self.should.items() if k in categories),
        )

    def bounded_rate(self, group: str) -> BoundedRate:
        """The recording rate for one reported group, its interval widened for the undecided screens."""
        return bounded(self.rate(group), self.undecided[group])

    def within_limit(self) -> Proportion:
        """The share of recorded crimes recorded within the limit (24 hours)."""
        return wilson(self.on_time, self.recorded)


CANCELLATION_CATEGORIES = ("rape", "other_sexual", "violence", "robbery")  # the inspectorate's four


def cancellations_judged(removals: Iterable[tuple[str, bool | None]]) -> list[tuple[str, Proportion]]:
    """For each of the inspectorate's four audit categories, how many of its removals (audit category, judged
    correct) were correct: "x of n correct", with the interval."""
    seen = list(removals)
    by_category = [(category, [ok for c, ok in seen if c == category]) for category in CANCELLATION_CATEGORIES]
    return [(category, wilson(sum(1 for ok in oks if ok), len(oks))) for category, oks in by_category]
