"""What the simulated force's people do after a contact is posted: officers decide third parties' reports (on time,
late, never, or closing them without grounds), cancel and reclassify recorded crimes, tell victims or not; and
the breach each wrong turn commits, with when it becomes knowable."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from crimerec.simulation.profile import Profile
from crimerec.simulation.truth import HIGH_RISK, LIMIT, Breach, PlannedContact, Step

# Who may authorise a cancellation by default (domain.md), and who the simulated force wrongly lets do it.
RIGHT_AUTHORISER = {"rape": "fcr", "other_sexual": "ddm", "violence": "ddm", "robbery": "ddm", "other": "supervisor"}
WRONG_AUTHORISER = {"rape": "ddm", "other_sexual": "supervisor", "violence": "supervisor", "robbery": "supervisor"}


class PeoplesActions:
    """The steps people take on planned contacts, drawn from the plan's seeded stream."""

    p: Profile
    rng: random.Random
    end: datetime
    notice: timedelta
    steps: list[Step]

    def decide_third_party(
        self, contact: PlannedContact, offences: list[dict[str, Any]], should: list[str], *, fate: str
    ) -> None:
        """An officer's decision on a third party's report: not a crime, left pending, closed without grounds, or
        recorded (sometimes late)."""
        rng, at, index = self.rng, contact.received_at, contact.index
        deadline = at + LIMIT
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
            rule = "UNJUSTIFIED_NON_CRIME" if decided < self.end else "MISSING_RECORD"
            contact.breaches.append(Breach(rule, decided if decided < self.end else deadline))
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

    def later_life(self, contact: PlannedContact, code: str, category: str, *, recorded_at: datetime) -> None:
        """What people later do to a single recorded crime: cancel it (rightly or wrongly), or reclassify it."""
        if self.rng.random() < self.p.cancellation_rate.get(category, 0):
            self.cancel(contact, category, recorded_at=recorded_at)
            return
        lesser = self.p.downgrades.get(code)
        if lesser is not None and self.rng.random() < self.p.reclassification_rate:
            self.reclassify(contact, lesser, recorded_at=recorded_at)

    def cancel(self, contact: PlannedContact, category: str, *, recorded_at: datetime) -> None:
        """An officer asks to cancel the crime (C2, with AVI) and someone approves: the right authoriser or not."""
        rng = self.rng
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

    def reclassify(self, contact: PlannedContact, lesser: str, *, recorded_at: datetime) -> None:
        """An officer downgrades the crime, with new information or without (DOWNGRADE)."""
        rng = self.rng
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
