"""A simulated force's month, planned in advance: every contact, every person's later action, and the truth.

Pure and seeded: the same profile, seed, force and period give the same plan. The truth says what the recording
standard required of each contact (as the inspectorate would judge it, narrative included) and which breaches the
simulated people committed, each with the moment it becomes knowable. It is written before anything is posted and
never read back from the system under test.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.catalogue import AuditCategory, OffenceCatalogue

HIGH_RISK = {AuditCategory.RAPE.value, AuditCategory.OTHER_SEXUAL.value, "violence", "robbery"}
CATEGORIES = [c.value for c in AuditCategory]
LIMIT = timedelta(hours=24)
VICTIM_NOTICE = timedelta(days=7)
# Who may authorise a cancellation by default (domain.md), and who the simulated force wrongly lets do it.
RIGHT_AUTHORISER = {"rape": "fcr", "other_sexual": "ddm", "violence": "ddm", "robbery": "ddm", "other": "supervisor"}
WRONG_AUTHORISER = {"rape": "ddm", "other_sexual": "supervisor", "violence": "supervisor", "robbery": "supervisor"}
NEIGHBOURS = ["CHE", "LAN", "MER", "WYP", "DER"]


class Unrecorded(BaseModel):
    """How the profile's unrecorded crimes come about (shares summing to 1)."""

    model_config = ConfigDict(extra="forbid")

    hidden_in_narrative: float = Field(ge=0, le=1, description="Call handler logs a crime as ASB or public safety.")
    left_pending: float = Field(ge=0, le=1, description="A third party's report waits for a decision nobody takes.")
    closed_without_grounds: float = Field(ge=0, le=1, description="An officer closes it as a non-crime.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> Unrecorded:
        if abs(self.hidden_in_narrative + self.left_pending + self.closed_without_grounds - 1) > 1e-6:
            raise ValueError("the unrecorded shares must sum to 1")
        return self


class Profile(BaseModel):
    """A force's volume, mix and people, as a small data file (crimerec/simulation/profiles/*.json)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    contacts_per_day: float = Field(gt=0, le=100_000)
    hourly_shape: list[float] = Field(min_length=24, max_length=24)
    weekly_shape: list[float] = Field(min_length=7, max_length=7, description="Monday first.")
    channels: dict[str, float]
    crime_share: float = Field(ge=0, le=1, description="Share of contacts reporting a crime.")
    non_crime_categories: dict[str, float]
    classes: dict[str, float] = Field(description="Home Office class mix of reported crimes.")
    multi_victim_share: float = Field(ge=0, le=1)
    multi_offence_share: float = Field(ge=0, le=1)
    third_party_share: float = Field(ge=0, le=1)
    other_force_area_share: float = Field(ge=0, le=1)
    recording_rate: dict[str, float] = Field(description="overall and violence: the share of crimes recorded.")
    unrecorded: Unrecorded
    third_party_not_a_crime_share: float = Field(ge=0, le=1)
    late_decision_share: float = Field(ge=0, le=1)
    cancellation_rate: dict[str, float]
    cancellations_correct: dict[str, float]
    victim_told_at_request: float = Field(ge=0, le=1)
    victim_told_later: float = Field(ge=0, le=1)
    reclassification_rate: float = Field(ge=0, le=1)
    downgrade_without_information: float = Field(ge=0, le=1)
    downgrades: dict[str, str]

    @field_validator("classes", "downgrades")
    @classmethod
    def _known_classes(cls, value: dict[str, Any]) -> dict[str, Any]:
        catalogue = OffenceCatalogue.default()
        for code in [*value, *(v for v in value.values() if isinstance(v, str))]:
            if catalogue.recordable(code) is not None:
                raise ValueError(f"{code}: {catalogue.recordable(code)}")
        return value

    @classmethod
    def load(cls, name_or_path: str) -> Profile:
        """A shipped profile by name (default, gmp-2016) or a profile file."""
        path = Path(name_or_path)
        if path.suffix == ".json" and path.exists():
            text = path.read_text()
        else:
            shipped = resources.files("crimerec.simulation").joinpath("profiles", f"{name_or_path}.json")
            if not shipped.is_file():
                raise ValueError(f"no profile {name_or_path!r}; shipped: {', '.join(shipped_profiles())}")
            text = shipped.read_text()
        return cls.model_validate(json.loads(text))


def shipped_profiles() -> list[str]:
    """The names of the profiles crimerec ships."""
    folder = resources.files("crimerec.simulation").joinpath("profiles")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


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
    should: list[str] = field(default_factory=list)  # audit categories of the crimes that should be recorded
    correct: list[str] = field(default_factory=list)  # of those, recorded and not wrongly cancelled
    breaches: list[Breach] = field(default_factory=list)
    cancellation: dict[str, Any] | None = None  # {category, correct, approved_at}


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
        and each injected breach with when it becomes knowable."""
        return {
            "profile": self.profile.name,
            "seed": self.seed,
            "force": self.force,
            "run": self.run,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "contacts": {
                c.reference: {
                    "kind": c.kind,
                    "received_at": c.received_at.isoformat(),
                    "should": c.should,
                    "correct": c.correct,
                    "breaches": [{"rule": b.rule, "knowable_at": b.knowable_at.isoformat()} for b in c.breaches],
                    "cancellation": c.cancellation,
                }
                for c in self.contacts
            },
        }


class _Planner:
    def __init__(
        self, profile: Profile, *, seed: int, force: str, start: datetime, end: datetime, run: str,
        victim_notice: timedelta,
    ) -> None:  # fmt: skip
        self.p = profile
        self.rng = random.Random(seed)
        self.force, self.start, self.end, self.run = force, start, end, run
        self.notice = victim_notice
        self.catalogue = OffenceCatalogue.default()
        self.steps: list[Step] = []
        self.contacts: list[PlannedContact] = []
        classes = list(profile.classes)
        self.class_codes, self.class_weights = classes, [profile.classes[c] for c in classes]
        self.p_unrecorded = self._unrecorded_by_category()

    # ------------------------------------------------------------------------------------------ calibration

    def category(self, code: str) -> str:
        offence = self.catalogue.get(code)
        assert offence is not None
        return offence.audit_category.value

    def _unrecorded_by_category(self) -> dict[str, float]:
        """The chance a crime goes unrecorded at first contact, per audit category, so that — with the wrongly
        cancelled ones — the profile's overall and violence recording rates come out."""
        total = sum(self.class_weights)
        violence = sum(
            w for c, w in zip(self.class_codes, self.class_weights, strict=True) if self.category(c) == "violence"
        )
        v = violence / total
        overall, violent = (
            self.p.recording_rate["overall"],
            self.p.recording_rate.get("violence", self.p.recording_rate["overall"]),
        )
        others = (overall - v * violent) / (1 - v) if v < 1 else overall
        result = {}
        for category in CATEGORIES:
            rate = violent if category == "violence" else others
            wrongly_cancelled = self.p.cancellation_rate.get(category, 0) * (
                1 - self.p.cancellations_correct.get(category, 1)
            )
            result[category] = min(1.0, max(0.0, 1 - rate - wrongly_cancelled))
        return result

    # ------------------------------------------------------------------------------------------ contacts

    def arrivals(self) -> list[datetime]:
        """Contact times: a Poisson stream shaped by the hour of day and the day of week."""
        times = []
        hourly = [h / (sum(self.p.hourly_shape) / 24) for h in self.p.hourly_shape]
        weekly = [w / (sum(self.p.weekly_shape) / 7) for w in self.p.weekly_shape]
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            rate = self.p.contacts_per_day / 24 * hourly[hour.hour] * weekly[hour.weekday()]
            count = _poisson(self.rng, rate)
            for _ in range(count):
                at = hour + timedelta(seconds=self.rng.uniform(0, 3600))
                if self.start <= at < self.end:
                    times.append(at.replace(microsecond=0))
            hour += timedelta(hours=1)
        return sorted(times)

    def plan(self) -> Plan:
        for index, at in enumerate(self.arrivals()):
            self.contact(index, at)
        steps = sorted((s for s in self.steps if s.at < self.end), key=lambda s: (s.at, s.contact))
        return Plan(self.p, 0, self.force, self.start, self.end, self.run, self.contacts, steps)

    def contact(self, index: int, at: datetime) -> None:
        rng = self.rng
        reference = f"SIM-{self.run}-{index:06d}"
        channel = _pick(rng, self.p.channels)
        if rng.random() >= self.p.crime_share:
            category = _pick(rng, self.p.non_crime_categories)
            body = self.body(reference, at, channel, category=category, victims=[], offences=[], reporter="victim")
            body["narrative"] = _non_crime_narrative(rng, category)
            self.add(PlannedContact(index, reference, body, at, "non_crime"), at)
            return
        code = rng.choices(self.class_codes, self.class_weights)[0]
        category = self.category(code)
        if not self.victim_based(code):
            self.against_the_state(index, reference, at, code)
            return
        victims = ["V1", "V2"] if rng.random() < self.p.multi_victim_share and category != "rape" else ["V1"]
        offences = [{"victim_ref": v, "ho_class": code, "offender_ref": "S1", "incident_ref": None} for v in victims]
        if rng.random() < self.p.multi_offence_share and code in self.p.downgrades:
            # A second, lesser offence against the first victim in the same incident: still one crime (HOCR E, F).
            offences.append(
                {"victim_ref": "V1", "ho_class": self.p.downgrades[code], "offender_ref": "S1", "incident_ref": None}
            )
        should = [category] * len(victims)
        if rng.random() < self.p_unrecorded[category]:
            fate = _pick(rng, self.p.unrecorded.model_dump())
            if fate == "hidden_in_narrative" or category == "rape":
                self.hidden(index, reference, at, channel, code, victims, should)
            else:
                self.third_party(index, reference, at, channel, code, victims, offences, should, fate=fate)
            return
        if category != "rape" and rng.random() < self.p.third_party_share:
            fate = "not_a_crime" if rng.random() < self.p.third_party_not_a_crime_share else "recorded"
            self.third_party(index, reference, at, channel, code, victims, offences, should, fate=fate)
            return
        other_area = rng.random() < self.p.other_force_area_share
        body = self.body(
            reference, at, channel, category="crime", victims=victims, offences=offences, reporter="victim",
            force_area=rng.choice([f for f in NEIGHBOURS if f != self.force]) if other_area else None,
        )  # fmt: skip
        body["narrative"] = _crime_narrative(rng, self.catalogue, code, victims, reporter="victim")
        contact = PlannedContact(
            index, reference, body, at, "transferred" if other_area else "recorded", should, list(should)
        )
        posted = self.add(contact, at)
        if other_area:
            # Recorded and transferred by the rules at first contact (C1): reviewed if high-risk, and the victim
            # must be told of the transfer.
            if category in HIGH_RISK:
                contact.breaches.append(Breach("HIGH_RISK_CANCELLATION", posted))
            self.victim_notice(contact, removed_at=posted, told_at_request=False)
        elif len(victims) == 1:
            self.later_life(contact, code, category, recorded_at=posted)

    def victim_based(self, code: str) -> bool:
        offence = self.catalogue.get(code)
        return offence is not None and offence.victim_based

    def against_the_state(self, index: int, reference: str, at: datetime, code: str) -> None:
        """An offence against the state found by an officer, who makes out the points to prove: recorded at once."""
        offences = [{"victim_ref": None, "ho_class": code, "offender_ref": "S1", "incident_ref": None}]
        body = self.body(reference, at, "officer", category="crime", victims=[], offences=offences, reporter="police")
        body["narrative"] = _crime_narrative(self.rng, self.catalogue, code, [], reporter="police")
        should = [self.category(code)]
        self.add(PlannedContact(index, reference, body, at, "recorded", should, list(should)), at)

    def hidden(
        self, index: int, reference: str, at: datetime, channel: str, code: str, victims: list[str], should: list[str]
    ) -> None:
        """The call handler logged a crime as ASB or public safety: only the narrative tells (no event rule can)."""
        body = self.body(
            reference,
            at,
            channel,
            category=self.rng.choice(["asb", "public_safety"]),
            victims=[],
            offences=[],
            reporter="victim",
        )
        body["narrative"] = _crime_narrative(self.rng, self.catalogue, code, victims, reporter="victim")
        self.add(PlannedContact(index, reference, body, at, "hidden_in_narrative", should, []), at)

    def third_party(
        self, index: int, reference: str, at: datetime, channel: str, code: str, victims: list[str],
        offences: list[dict[str, Any]], should: list[str], *, fate: str,
    ) -> None:  # fmt: skip
        """A third party's report about identified victims not yet confirmed: the standard leaves it to a person."""
        rng = self.rng
        body = self.body(
            reference, at, channel, category="crime", victims=victims, offences=offences, reporter="third_party"
        )
        body["narrative"] = _crime_narrative(rng, self.catalogue, code, victims, reporter="third_party")
        deadline = at + LIMIT
        contact = PlannedContact(index, reference, body, at, "third_party")
        self.add(contact, at)
        if fate == "not_a_crime":
            decided = at + timedelta(hours=rng.uniform(1, 20))
            self.steps.append(Step(decided, "decide", index, "officer", {
                "outcome": "cri", "rationale": "Victim spoken to; the account does not stand.",
                "credible_evidence": "The named victim said no offence took place, and CCTV shows none.",
            }))  # fmt: skip
            return
        contact.should = should
        if fate == "left_pending":
            contact.breaches.append(Breach("MISSING_RECORD", deadline))
            return
        if fate == "closed_without_grounds":
            decided = at + timedelta(hours=rng.uniform(1, 20))
            self.steps.append(Step(decided, "decide", index, "officer", {
                "outcome": "non_crime", "rationale": "No further police action.", "closing_category": "advice",
            }))  # fmt: skip
            if decided < self.end:
                contact.breaches.append(Breach("UNJUSTIFIED_NON_CRIME", decided))
            else:
                contact.breaches.append(Breach("MISSING_RECORD", deadline))
            return
        late = rng.random() < self.p.late_decision_share
        decided = at + timedelta(hours=rng.uniform(26, 96) if late else rng.uniform(1, 20))
        self.steps.append(Step(decided, "decide", index, "officer", {
            "outcome": "recorded", "rationale": "Victim confirmed the account by phone.", "offences": offences,
        }))  # fmt: skip
        if late:
            contact.breaches.append(Breach("MISSING_RECORD", deadline))
        if decided < self.end:
            contact.correct = list(should)
            if late:
                contact.breaches.append(Breach("LATE_RECORD", decided))

    # ------------------------------------------------------------------------------------------ after recording

    def later_life(self, contact: PlannedContact, code: str, category: str, *, recorded_at: datetime) -> None:
        """What people later do to a single recorded crime: cancel it (rightly or wrongly), or reclassify it."""
        rng = self.rng
        if rng.random() < self.p.cancellation_rate.get(category, 0):
            correct = rng.random() < self.p.cancellations_correct.get(category, 1) or category not in WRONG_AUTHORISER
            requested = recorded_at + timedelta(hours=rng.uniform(2, 96))
            approved = requested + timedelta(hours=rng.uniform(1, 48))
            told_now = rng.random() < self.p.victim_told_at_request
            body: dict[str, Any] = {
                "code": "C2",
                "explanation": "Additional verifiable information shows no notifiable offence took place.",
                "avi": {
                    "description": "CCTV covering the whole incident",
                    "held_at": f"CCTV exhibit {contact.reference}/1",
                },
                "victim_informed": told_now,
            }
            if told_now:
                body["victim_informed_at"] = requested.isoformat()
            self.steps.append(Step(requested, "cancel", contact.index, "officer", body))
            role = RIGHT_AUTHORISER[category] if correct else WRONG_AUTHORISER[category]
            self.steps.append(Step(approved, "approve", contact.index, role, {"note": "Reviewed the AVI."}))
            if approved >= self.end:
                return
            contact.cancellation = {"category": category, "correct": correct, "approved_at": approved.isoformat()}
            # A right cancellation shows the crime was never one; a wrong one leaves a crime unrecorded.
            contact.should = [] if correct else contact.should
            contact.correct = []
            if category in HIGH_RISK:
                contact.breaches.append(Breach("HIGH_RISK_CANCELLATION", approved))
            if not correct:
                contact.breaches.append(Breach("CANCELLATION_WRONG_AUTHORITY", approved))
            self.victim_notice(contact, removed_at=approved, told_at_request=told_now)
            return
        lesser = self.p.downgrades.get(code)
        if lesser is not None and rng.random() < self.p.reclassification_rate:
            at = recorded_at + timedelta(hours=rng.uniform(2, 120))
            with_information = rng.random() >= self.p.downgrade_without_information
            self.steps.append(Step(at, "reclassify", contact.index, "officer", {
                "new_class": lesser,
                "reason": "Injuries less serious than first reported." if with_information else "Reviewed the record.",
                "new_information": with_information,
                **({"new_information_detail": "Medical notes received."} if with_information else {}),
            }))  # fmt: skip
            if not with_information and at < self.end:
                contact.breaches.append(Breach("DOWNGRADE", at))

    def victim_notice(self, contact: PlannedContact, *, removed_at: datetime, told_at_request: bool) -> None:
        """The victim is told of a removal in time, late or never (CANCELLATION_VICTIM_NOT_TOLD)."""
        if told_at_request:
            return
        rest = 1 - self.p.victim_told_at_request
        if rest > 0 and self.rng.random() < self.p.victim_told_later / rest:
            told = removed_at + self.notice * self.rng.uniform(0.01, 0.85)
            self.steps.append(
                Step(told, "notify", contact.index, "officer", {"notified_at": told.isoformat(), "method": "phone"})
            )
            if told < self.end:
                return
        contact.breaches.append(Breach("CANCELLATION_VICTIM_NOT_TOLD", removed_at + self.notice))

    # ------------------------------------------------------------------------------------------ bodies

    def add(self, contact: PlannedContact, at: datetime) -> datetime:
        """Adds a contact, posted a few minutes after the call was received (the handler finishes the log);
        returns when it is posted, which is when the recorder decides it."""
        self.contacts.append(contact)
        posted = at + timedelta(seconds=self.rng.randint(30, 600))
        self.steps.append(Step(posted, "contact", contact.index, "call_handler"))
        return posted

    def body(
        self, reference: str, at: datetime, channel: str, *, category: str, victims: list[str],
        offences: list[dict[str, Any]], reporter: str, force_area: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        rng = self.rng
        third_party = reporter == "third_party"
        return {
            "force": self.force,
            "source": {"system": "SIM-STORM", "reference": reference},
            "channel": channel,
            "received_at": at.isoformat(),
            "reporter": {"relationship": reporter, "name": rng.choice(_NAMES), "phone": None, "email": None},
            "victims": [
                {
                    "ref": v,
                    "kind": "person",
                    "name": rng.choice(_NAMES),
                    "date_of_birth": None,
                    "identified": True,
                    "confirmed": not third_party,
                }
                for v in victims
            ],
            "incident": {"category": category, "opening_code": None, "qualifiers": []},
            "location": {"description": rng.choice(_PLACES), "postcode": None, "force_area": force_area or self.force},
            "occurred_from": (at - timedelta(minutes=rng.randint(20, 180))).isoformat(),
            "occurred_to": (at - timedelta(minutes=rng.randint(5, 19))).isoformat(),
            "offences": offences,
            "credible_evidence_to_contrary": None,
            "narrative": "",
        }


def plan(
    profile: Profile, *, seed: int, force: str, start: datetime, days: float, run: str,
    victim_notice: timedelta = VICTIM_NOTICE,
) -> Plan:  # fmt: skip
    """The whole simulation of `days` from `start` for `force`, seeded. `victim_notice` is the force's limit for
    telling a victim of a cancellation (the auditor's `victim_notice_days`)."""
    end = start + timedelta(days=days)
    planner = _Planner(profile, seed=seed, force=force, start=start, end=end, run=run, victim_notice=victim_notice)
    result = planner.plan()
    result.seed = seed
    return result


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method for small means, a normal approximation above (contacts an hour rarely exceed a few hundred).
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    threshold, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


_NAMES = ["Alex Morgan", "Sam Patel", "Jordan Lee", "Casey Brown", "Riley Khan", "Taylor Evans", "Morgan Hughes",
          "Jamie Clarke", "Avery Singh", "Charlie Wood", "Drew Walsh", "Robin Ahmed"]  # fmt: skip
_PLACES = ["outside a bar on the high street", "at home", "in a supermarket car park", "on a bus",
           "at the railway station", "in a park", "outside a school", "at a takeaway"]  # fmt: skip


def _crime_narrative(
    rng: random.Random, catalogue: OffenceCatalogue, code: str, victims: list[str], *, reporter: str
) -> str:
    offence = catalogue.get(code)
    assert offence is not None
    place = rng.choice(_PLACES)
    if reporter == "police":
        return f"Officer on patrol found {offence.name.lower()} {place}; suspect detained, points to prove made out."
    who = "two people" if len(victims) > 1 else "the caller" if reporter == "victim" else "a neighbour"
    by = "Caller" if reporter == "victim" else "A third party"
    return f"{by} reports {offence.name.lower()} against {who} {place}; the suspect left before police arrived."


def _non_crime_narrative(rng: random.Random, category: str) -> str:
    return {
        "asb": "Youths gathering and playing loud music late at night; no one harmed and nothing damaged.",
        "public_safety": "Concern for the welfare of an elderly neighbour not seen for two days.",
        "transport": "Broken-down vehicle blocking a lane; no collision.",
    }.get(category, f"Contact about {category}; no offence reported.") + f" Ref {rng.randint(1000, 9999)}."
