"""What the detectors look at: the auditor's pseudonymous view of a contact, its decision, crimes and removals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.contacts import ContactCreate


@dataclass(frozen=True)
class VictimFact:
    """A victim as reported, without name or contact details."""

    ref: str
    kind: str
    identified: bool
    confirmed: bool


@dataclass(frozen=True)
class OffenceFact:
    """An offence as classified at first contact."""

    victim_ref: str | None
    ho_class: str
    offender_ref: str | None
    incident_ref: str | None


@dataclass(frozen=True)
class ReportedFacts:
    """What a contact reported: enough to judge the recording decision, nothing that identifies anyone."""

    force: str
    category: str
    reporter: str
    victims: tuple[VictimFact, ...]
    offences: tuple[OffenceFact, ...]
    credible_evidence: bool
    force_area: str | None

    @classmethod
    def of(cls, contact: ContactCreate) -> ReportedFacts:
        """The facts of a contact as intake received it (names, phone numbers and narrative left out)."""
        return cls(
            force=contact.force,
            category=contact.incident.category.value,
            reporter=contact.reporter.relationship.value,
            victims=tuple(VictimFact(v.ref, v.kind.value, v.identified, v.confirmed) for v in contact.victims),
            offences=tuple(
                OffenceFact(o.victim_ref, o.ho_class, o.offender_ref, o.incident_ref) for o in contact.offences
            ),
            credible_evidence=bool((contact.credible_evidence_to_contrary or "").strip()),
            force_area=contact.location.force_area if contact.location else None,
        )

    def to_json(self) -> dict[str, Any]:
        """As stored in the projection."""
        return {
            "force": self.force,
            "category": self.category,
            "reporter": self.reporter,
            "victims": [v.__dict__ for v in self.victims],
            "offences": [o.__dict__ for o in self.offences],
            "credible_evidence": self.credible_evidence,
            "force_area": self.force_area,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportedFacts:
        """From the projection."""
        return cls(
            force=data["force"],
            category=data["category"],
            reporter=data["reporter"],
            victims=tuple(VictimFact(**v) for v in data["victims"]),
            offences=tuple(OffenceFact(**o) for o in data["offences"]),
            credible_evidence=data["credible_evidence"],
            force_area=data.get("force_area"),
        )


@dataclass(frozen=True)
class CrimeFact:
    """A crime recorded from the contact, as the auditor has seen it."""

    crime_reference: str
    ho_class: str
    audit_category: str
    status: str
    recorded_at: datetime
    recording_deadline: datetime


@dataclass(frozen=True)
class DecisionFact:
    """The recorder's decision on the contact."""

    outcome: str
    decided_at: datetime
    decided_by: str | None
    credible_evidence: str | None
    rationale: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecisionFact:
        """From the projection."""
        return cls(
            outcome=data["outcome"],
            decided_at=datetime.fromisoformat(data["decided_at"]),
            decided_by=data.get("decided_by"),
            credible_evidence=data.get("credible_evidence"),
            rationale=data.get("rationale", ""),
        )


@dataclass(frozen=True)
class ContactState:
    """Everything the auditor knows about one contact."""

    contact_id: str
    force: str
    received_at: datetime | None
    recording_deadline: datetime | None
    facts: ReportedFacts | None
    decision: DecisionFact | None
    crimes: tuple[CrimeFact, ...] = ()
    n100s: int = 0
    event_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Removal:
    """A cancellation or transfer as the recorder (or any records system) announced it."""

    event_id: str
    kind: str  # cancelled | transferred
    crime_reference: str
    contact_id: str
    force: str
    ho_class: str
    audit_category: str
    code: str
    grounds: dict[str, Any]
    request_id: str | None
    requested_by: dict[str, Any] | None
    authorised_by: dict[str, Any] | None
    authority_mode: str
    removed_at: datetime
    victim_informed: bool
    victim_informed_at: datetime | None
