"""A simulated force's month, planned in advance: every contact, every person's later action, and the truth.

Pure and seeded: the same profile, seed, force and period give the same plan. The truth says what the recording
standard required of each contact (as the inspectorate would judge it, narrative included), whether its narrative
discloses a crime and of which family, and which breaches the simulated people committed, each with the moment it
becomes knowable. It is written before anything is posted and never read back from the system under test.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from crimerec.simulation.narratives import Narrative, NarrativeWriter
from crimerec.simulation.people import PeoplesActions
from crimerec.simulation.phrasings import PLACES
from crimerec.simulation.profile import Profile, Unrecorded, shipped_profiles
from crimerec.simulation.truth import (
    CATEGORIES,
    HIGH_RISK,
    LIMIT,
    VICTIM_NOTICE,
    Breach,
    Plan,
    PlannedContact,
    Step,
)
from schemas.catalogue import OffenceCatalogue

__all__ = [
    "LIMIT", "VICTIM_NOTICE", "Breach", "Plan", "PlannedContact", "Profile", "Step", "Unrecorded", "plan",
    "shipped_profiles",
]  # fmt: skip
NEIGHBOURS = ["CHE", "LAN", "MER", "WYP", "DER"]


class _Planner(PeoplesActions):
    def __init__(
        self, profile: Profile, *, seed: int, force: str, start: datetime, end: datetime, run: str,
        victim_notice: timedelta,
    ) -> None:  # fmt: skip
        self.p = profile
        self.rng = random.Random(seed)
        self.force, self.start, self.end, self.run = force, start, end, run
        self.notice = victim_notice
        self.catalogue = OffenceCatalogue.default()
        self.writer = NarrativeWriter(seed, self.catalogue)
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
            narrative = self.writer.non_crime(category, log_number=rng.randint(1000, 9999))
            body["narrative"] = narrative.text
            self.add(PlannedContact(index, reference, body, at, "non_crime", narrative), at)
            return
        code = rng.choices(self.class_codes, self.class_weights)[0]
        if not self.victim_based(code):
            self.against_the_state(index, reference, at, code)
            return
        self.crime(index, reference, at, channel, code)

    def crime(self, index: int, reference: str, at: datetime, channel: str, code: str) -> None:
        """A victim's crime: recorded at first contact, left to a person, or hidden behind another category."""
        rng, category = self.rng, self.category(code)
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
        narrative = self.tell(body, code, victims, reporter="victim")
        kind = "transferred" if other_area else "recorded"
        contact = PlannedContact(index, reference, body, at, kind, narrative, should, list(should))
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
        narrative = self.tell(body, code, [], reporter="police")
        should = [self.category(code)]
        self.add(PlannedContact(index, reference, body, at, "recorded", narrative, should, list(should)), at)

    def hidden(
        self, index: int, reference: str, at: datetime, channel: str, code: str, victims: list[str], should: list[str]
    ) -> None:
        """The call handler logged a crime as ASB or public safety: only the narrative tells (no event rule can)."""
        category = self.rng.choice(["asb", "public_safety"])
        body = self.body(reference, at, channel, category=category, victims=[], offences=[], reporter="victim")
        # The caller (and anyone with them) is logged as a person involved, with no offence classified: the review
        # of the narrative's screen records the crimes against them (one per victim). No draw from the plan's
        # stream, so a seed plans what it planned before.
        body["victims"] = [
            {"ref": v, "kind": "person", "name": body["reporter"]["name"], "date_of_birth": None, "identified": True,
             "confirmed": True}
            for v in victims
        ]  # fmt: skip
        disclosed = [{"victim_ref": v, "ho_class": code, "offender_ref": "S1", "incident_ref": None} for v in victims]
        narrative = self.tell(body, code, victims, reporter="victim", hidden=True)
        contact = PlannedContact(index, reference, body, at, "hidden_in_narrative", narrative, should, [])
        contact.disclosed = disclosed
        self.add(contact, at)

    def third_party(
        self, index: int, reference: str, at: datetime, channel: str, code: str, victims: list[str],
        offences: list[dict[str, Any]], should: list[str], *, fate: str,
    ) -> None:  # fmt: skip
        """A third party's report about identified victims not yet confirmed: the standard leaves it to a person."""
        body = self.body(
            reference, at, channel, category="crime", victims=victims, offences=offences, reporter="third_party"
        )
        narrative = self.tell(body, code, victims, reporter="third_party")
        contact = PlannedContact(index, reference, body, at, "third_party", narrative)
        self.add(contact, at)
        self.decide_third_party(contact, offences, should, fate=fate)

    # ------------------------------------------------------------------------------------------ bodies

    def tell(
        self, body: dict[str, Any], code: str, victims: list[str], *, reporter: str, hidden: bool = False
    ) -> Narrative:
        """Writes the crime's narrative into the body; the place is drawn from the plan's stream."""
        place = self.rng.choice(PLACES)
        narrative = self.writer.crime(code, victims=len(victims), reporter=reporter, place=place, hidden=hidden)
        body["narrative"] = narrative.text
        return narrative

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
            "location": {"description": rng.choice(PLACES), "postcode": None, "force_area": force_area or self.force},
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
