"""What a plan is made of: the contacts as planned, the steps people take, and the truth they are judged against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crimerec.simulation.narratives import Narrative
from crimerec.simulation.profile import Profile
from schemas.catalogue import AuditCategory

HIGH_RISK = {AuditCategory.RAPE.value, AuditCategory.OTHER_SEXUAL.value, "violence", "robbery"}
CATEGORIES = [c.value for c in AuditCategory]
LIMIT = timedelta(hours=24)
VICTIM_NOTICE = timedelta(days=7)
# The kinds of contact the recorder records at first contact; the others a person, or a screener, must look at.
RECORDED_AT_FIRST_CONTACT = frozenset({"recorded", "transferred"})


@dataclass(frozen=True)
class Breach:
    """A breach the simulated people committed: the rule that should flag it, and when it becomes knowable."""

    rule: str
    knowable_at: datetime


@dataclass
class Step:
    """One thing someone does at a simulated time: a call handler posts a contact, or a person acts on it."""

    at: datetime
    kind: str  # contact | decide | reclassify | cancel | approve | notify
    contact: int
    role: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlannedContact:
    """A contact as posted, what the standard required of it, and what its people will do."""

    index: int
    reference: str
    body: dict[str, Any]
    received_at: datetime
    kind: str  # recorded | third_party | hidden_in_narrative | non_crime | transferred
    narrative: Narrative
    should: list[str] = field(default_factory=list)  # audit categories of the crimes that should be recorded
    correct: list[str] = field(default_factory=list)  # of those, recorded and not wrongly cancelled
    breaches: list[Breach] = field(default_factory=list)
    cancellation: dict[str, Any] | None = None  # {category, correct, approved_at}
    # The offences a narrative discloses that first contact did not classify, as a reviewer of its screen records them.
    disclosed: list[dict[str, Any]] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        """This contact's truth as JSON."""
        return {
            "kind": self.kind,
            "received_at": self.received_at.isoformat(),
            "recorded_at_first_contact": self.kind in RECORDED_AT_FIRST_CONTACT,
            "narrative": {"discloses_crime": self.narrative.discloses_crime, "family": self.narrative.family},
            "should": self.should,
            "correct": self.correct,
            "breaches": [{"rule": b.rule, "knowable_at": b.knowable_at.isoformat()} for b in self.breaches],
            "cancellation": self.cancellation,
        }


@dataclass
class Plan:
    """Everything a simulation will do, in time order, and the truth it is judged against."""

    profile: Profile
    seed: int
    force: str
    start: datetime
    end: datetime
    run: str
    contacts: list[PlannedContact]
    steps: list[Step]

    def truth(self) -> dict[str, Any]:
        """The ground truth as JSON: per contact (by source reference), what should have been recorded, what was,
        whether its narrative discloses a crime and of which family, and each injected breach with when it becomes
        knowable."""
        return {
            "profile": self.profile.name,
            "seed": self.seed,
            "force": self.force,
            "run": self.run,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "contacts": {c.reference: c.truth() for c in self.contacts},
        }
