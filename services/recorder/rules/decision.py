"""Which crimes a contact discloses, and what must be recorded for it (NCRS, counting rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.events import Outcome

RULES_VERSION = "ncrs-2026.1"


@dataclass(frozen=True)
class CrimeToRecord:
    """One crime the rules require to be recorded."""

    victim_ref: str | None
    ho_class: str
    offender_ref: str | None
    incident_ref: str | None


@dataclass(frozen=True)
class Decision:
    """The recording decision for one contact, with its reasons."""

    outcome: Outcome
    crimes: tuple[CrimeToRecord, ...]
    rationale: str
    recording_deadline: datetime
    problems: tuple[str, ...] = ()
    transfer_to: str | None = None
    n100: bool = False
    rules_version: str = field(default=RULES_VERSION)


def recording_deadline(received_at: datetime, limit: timedelta) -> datetime:
    """NCRS: recorded within the limit (default 24 h) of the report; the clock starts at receipt, never resets."""
    return received_at + limit


def decide(contact: ContactCreate, *, catalogue: OffenceCatalogue, limit: timedelta) -> Decision:
    """Decides a contact: one crime per reported offence, or a pending decision naming what stops recording."""
    deadline = recording_deadline(contact.received_at, limit)
    problems = tuple(
        f"offences.{i}.ho_class: {reason}"
        for i, offence in enumerate(contact.offences)
        if (reason := catalogue.recordable(offence.ho_class)) is not None
    )
    if problems:
        return Decision(
            outcome=Outcome.PENDING,
            crimes=(),
            rationale="A reported offence cannot be recorded under its class as given; a person must decide.",
            recording_deadline=deadline,
            problems=problems,
        )
    if not contact.offences:
        if contact.incident.category == "crime":
            return Decision(
                outcome=Outcome.PENDING,
                crimes=(),
                rationale="Crime-related contact with no offence classified yet; a person must decide.",
                recording_deadline=deadline,
                problems=("offences: none classified at first contact",),
            )
        return Decision(
            outcome=Outcome.NON_CRIME,
            crimes=(),
            rationale=f"Not crime-related: NSIR {contact.incident.category} incident.",
            recording_deadline=deadline,
        )
    crimes = tuple(
        CrimeToRecord(
            victim_ref=offence.victim_ref,
            ho_class=offence.ho_class,
            offender_ref=offence.offender_ref,
            incident_ref=offence.incident_ref,
        )
        for offence in contact.offences
    )
    area = contact.location.force_area if contact.location else None
    return Decision(
        outcome=Outcome.RECORDED,
        crimes=crimes,
        rationale="Recorded at first contact on the account given: one crime per reported offence.",
        recording_deadline=deadline,
        transfer_to=area if area and area != contact.force else None,
    )
