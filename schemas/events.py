"""The payloads of the events the services publish, and the registry from event type to its payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID

from pydantic import Field, model_validator

from schemas import topics
from schemas.catalogue import AuditCategory, ForceCode, HoClass
from schemas.contacts import ContactCreate, Ref
from schemas.envelope import AwareDatetime, Envelope
from schemas.payload import EventPayload as EventPayload
from schemas.screening_events import ContactScreened as ContactScreened
from schemas.screening_events import ReviewAction as ReviewAction
from schemas.screening_events import ScreeningReviewed as ScreeningReviewed
from schemas.vocabulary import Actor as Actor
from schemas.vocabulary import AuthorityMode as AuthorityMode
from schemas.vocabulary import CancellationCode as CancellationCode
from schemas.vocabulary import CancellationGrounds as CancellationGrounds
from schemas.vocabulary import CrimeReference as CrimeReference
from schemas.vocabulary import FlagStatus as FlagStatus
from schemas.vocabulary import Outcome as Outcome
from schemas.vocabulary import Role as Role
from schemas.vocabulary import RulesVersion as RulesVersion
from schemas.vocabulary import VerifiableInformation as VerifiableInformation  # all re-exported: the contract


class ContactReceived(EventPayload):
    """Intake has stored a contact: the recorder decides on it and the auditor starts its clock."""

    EVENT_TYPE: ClassVar[str] = "contact.received"

    force: ForceCode = Field(description="The force that received the contact.")
    received_at: AwareDatetime = Field(description="When the report first reached the police.")
    submitted_by: Actor = Field(description="Who sent the contact to intake.")
    contact: ContactCreate = Field(description="The contact as intake accepted it.")

    @model_validator(mode="after")
    def _agrees_with_contact(self) -> ContactReceived:
        if self.force != self.contact.force:
            raise ValueError(f"force {self.force} is not the contact's force {self.contact.force}")
        if self.received_at != self.contact.received_at:
            raise ValueError("received_at is not the contact's received_at")
        return self


class ContactDecided(EventPayload):
    """The recorder has decided what a contact is: crimes recorded, pending, CRI, N100 or non-crime (NCRS)."""

    EVENT_TYPE: ClassVar[str] = "contact.decided"

    force: ForceCode = Field(description="The force that received the contact.")
    outcome: Outcome = Field(description="The decision.")
    crime_references: list[CrimeReference] = Field(
        default_factory=list,
        max_length=200,
        description="The crimes recorded from the contact (outcome recorded), principal crime first.",
    )
    rationale: str = Field(min_length=1, max_length=10_000, description="Why, in words an auditor can check.")
    rules_version: RulesVersion
    decided_at: AwareDatetime = Field(description="When the decision was made.")
    recording_deadline: AwareDatetime = Field(
        description="When the 24-hour recording clock, started at received_at, runs out."
    )
    received_at: AwareDatetime = Field(description="When the report first reached the police.")
    decided_by: Actor | None = Field(description="The person who decided; null when the rules decided it.")
    problems: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list,
        max_length=200,
        description="Why the contact needs a person's decision (e.g. a class the catalogue does not know).",
    )
    n100: bool = Field(
        default=False, description="Whether an N100 record exists: a reported rape not recorded as rape."
    )
    transfer_to: ForceCode | None = Field(
        default=None, description="The force a crime is transferred to (committed in its area), if any."
    )
    credible_evidence: str | None = Field(
        default=None,
        max_length=4000,
        description="outcome cri: the credible evidence to the contrary that justified not recording a crime.",
    )

    @model_validator(mode="after")
    def _outcome_agrees(self) -> ContactDecided:
        if self.outcome is Outcome.RECORDED and not self.crime_references:
            raise ValueError("a contact decided as recorded names at least one crime reference")
        if self.outcome is Outcome.N100 and not self.n100:
            raise ValueError("a contact decided as n100 has n100 true")
        if self.recording_deadline < self.received_at:
            raise ValueError("recording_deadline must not be before received_at")
        return self


class CrimeRecorded(EventPayload):
    """The recorder has recorded a crime: one victim, one Home Office class (HOCR sections D to F)."""

    EVENT_TYPE: ClassVar[str] = "crime.recorded"

    crime_reference: CrimeReference
    force: ForceCode = Field(description="The force that recorded the crime.")
    victim_ref: Ref | None = Field(description="The victim (victims[].ref); null for an offence against the state.")
    ho_class: HoClass
    offence_group: str = Field(min_length=1, max_length=100, description="The class's ONS offence group.")
    audit_category: AuditCategory = Field(description="The class's inspectorate audit category.")
    incident_ref: Ref | None = Field(default=None, description="The incident within the contact, if several.")
    offender_ref: Ref | None = Field(default=None, description="The suspect's label within the contact.")
    received_at: AwareDatetime = Field(description="When the report first reached the police.")
    recorded_at: AwareDatetime = Field(description="When the crime was recorded.")
    recording_deadline: AwareDatetime = Field(
        description="When the 24-hour recording clock, started at received_at, runs out."
    )
    transfer_to: ForceCode | None = Field(
        default=None, description="The force the crime is to be transferred to (committed in its area)."
    )
    rules_version: RulesVersion
    recorded_by: Actor | None = Field(description="The person who recorded it; null when the rules did.")

    @model_validator(mode="after")
    def _times_agree(self) -> CrimeRecorded:
        if self.recording_deadline < self.received_at:
            raise ValueError("recording_deadline must not be before received_at")
        return self


class CrimeReclassified(EventPayload):
    """A recorded crime's Home Office class changed; a move to a less serious class is a downgrade."""

    EVENT_TYPE: ClassVar[str] = "crime.reclassified"

    crime_reference: CrimeReference
    force: ForceCode
    previous_class: HoClass
    previous_audit_category: AuditCategory
    new_class: HoClass
    new_audit_category: AuditCategory
    offence_group: str = Field(min_length=1, max_length=100, description="The new class's ONS offence group.")
    reason: str = Field(min_length=1, max_length=4000)
    new_information: bool = Field(description="Whether new information came to light (a downgrade needs it).")
    new_information_detail: str | None = Field(default=None, max_length=4000)
    reclassified_by: Actor
    reclassified_at: AwareDatetime


class CrimeCancellationRequested(EventPayload):
    """An officer asked for a recorded crime to be cancelled or transferred."""

    EVENT_TYPE: ClassVar[str] = "crime.cancellation_requested"

    request_id: UUID
    crime_reference: CrimeReference
    force: ForceCode
    ho_class: HoClass
    audit_category: AuditCategory
    grounds: CancellationGrounds
    requested_by: Actor
    requested_at: AwareDatetime
    victim_informed: bool = Field(description="Whether the victim has been told.")
    victim_informed_at: AwareDatetime | None = None


class CrimeCancellationRejected(EventPayload):
    """An authoriser refused a cancellation request; the crime stays recorded."""

    EVENT_TYPE: ClassVar[str] = "crime.cancellation_rejected"

    request_id: UUID
    crime_reference: CrimeReference
    force: ForceCode
    rejected_by: Actor
    rejected_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=4000)


class _Removal(EventPayload):
    """What the auditor needs to judge a removal without calling back: class, grounds, who asked, who authorised."""

    request_id: UUID | None = Field(description="The cancellation request; null when the rules transferred it.")
    crime_reference: CrimeReference
    force: ForceCode
    ho_class: HoClass
    audit_category: AuditCategory
    grounds: CancellationGrounds
    requested_by: Actor | None
    requested_at: AwareDatetime
    authorised_by: Actor | None = Field(description="Null when the rules transferred it at first contact.")
    authorised_at: AwareDatetime
    authority_required: list[Role] = Field(
        max_length=len(Role), description="The roles the force's authority matrix required for this crime."
    )
    authority_mode: AuthorityMode
    victim_informed: bool
    victim_informed_at: AwareDatetime | None = None


class CrimeCancelled(_Removal):
    """A recorded crime was cancelled (C2, C3 or C4). It stays readable with its history; it no longer counts."""

    EVENT_TYPE: ClassVar[str] = "crime.cancelled"


class CrimeTransferred(_Removal):
    """A recorded crime was transferred to the force where it was committed (C1)."""

    EVENT_TYPE: ClassVar[str] = "crime.transferred"

    receiving_force: ForceCode


class N100Recorded(EventPayload):
    """An N100 record: a reported rape (or attempt) not recorded at once as a rape crime in this force."""

    EVENT_TYPE: ClassVar[str] = "n100.recorded"

    n100_id: UUID
    force: ForceCode
    reported_class: HoClass = Field(description="The rape class as reported.")
    reason: str = Field(min_length=1, max_length=4000, description="Why it is not (yet) a rape crime here.")
    crime_reference: CrimeReference | None = Field(default=None, description="The crime it relates to, if any.")
    recorded_at: AwareDatetime
    recorded_by: Actor | None = Field(description="Null when the rules recorded it.")


class VictimNotified(EventPayload):
    """The victim was told of a cancellation or transfer of their crime."""

    EVENT_TYPE: ClassVar[str] = "victim.notified"

    crime_reference: CrimeReference
    force: ForceCode
    about: CancellationCode | None = Field(default=None, description="The removal the victim was told of.")
    notified_at: AwareDatetime
    method: str = Field(min_length=1, max_length=200, description="How: phone, letter, in person, email…")
    notified_by: Actor


class _Flag(EventPayload):
    """An integrity flag the auditor raised, as supervisors and other systems see it."""

    flag_id: int = Field(ge=1)
    rule: str = Field(min_length=1, max_length=40, description="e.g. MISSING_RECORD, HIGH_RISK_CANCELLATION.")
    severity: str = Field(min_length=1, max_length=10, description="low, medium, high or critical.")
    force: ForceCode
    crime_reference: CrimeReference | None = None
    audit_category: AuditCategory | None = None
    explanation: str = Field(min_length=1, max_length=10_000, description="What is wrong, in plain English.")
    evidence: dict[str, Any] = Field(description="What the detector saw: event ids, times, classes, roles.")
    raised_at: AwareDatetime
    status: FlagStatus
    resolution: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=4000, description="What cured or resolved it, or who.")


class FlagRaised(_Flag):
    """The auditor raised a flag (once per breach)."""

    EVENT_TYPE: ClassVar[str] = "flag.raised"


class FlagUpdated(_Flag):
    """A flag changed status: acknowledged, resolved, or cured by a later event."""

    EVENT_TYPE: ClassVar[str] = "flag.updated"


PAYLOADS: Final[tuple[type[EventPayload], ...]] = (
    ContactReceived,
    ContactDecided,
    CrimeRecorded,
    CrimeReclassified,
    CrimeCancellationRequested,
    CrimeCancellationRejected,
    CrimeCancelled,
    CrimeTransferred,
    N100Recorded,
    VictimNotified,
    ContactScreened,
    ScreeningReviewed,
    FlagRaised,
    FlagUpdated,
)

EVENT_TYPES: Final[Mapping[str, type[EventPayload]]] = MappingProxyType({model.EVENT_TYPE: model for model in PAYLOADS})
"""Every event type crimerec publishes, mapped to its payload model."""

EVENT_TOPICS: Final[Mapping[str, str]] = MappingProxyType(
    {
        ContactReceived.EVENT_TYPE: topics.CONTACTS,
        FlagRaised.EVENT_TYPE: topics.ALERTS,
        FlagUpdated.EVENT_TYPE: topics.ALERTS,
    }
    | {model.EVENT_TYPE: topics.RECORDS for model in PAYLOADS if not issubclass(model, ContactReceived | _Flag)}
)
"""The topic each event type is published on (before any deployment prefix)."""


def parse_payload(envelope: Envelope) -> EventPayload:
    """The envelope's payload as its event type's model; ValueError (or ValidationError) if it is not one."""
    model = EVENT_TYPES.get(envelope.event_type)
    if model is None:
        raise ValueError(f"unknown event type {envelope.event_type!r}")
    if envelope.schema_version > model.SCHEMA_VERSION:
        # design.md, Events: a breaking change is a new version, which this reader cannot know.
        raise ValueError(
            f"{envelope.event_type} schema version {envelope.schema_version} is newer than this reader "
            f"(version {model.SCHEMA_VERSION})"
        )
    payload = model.model_validate(envelope.payload)
    if payload.contact_id != envelope.contact_id:
        # design.md, Keys and order: every event about a contact is keyed by its contact_id.
        raise ValueError(
            f"{envelope.event_type} payload is about contact {payload.contact_id}, "
            f"the envelope about {envelope.contact_id}"
        )
    return payload


def envelope_for(
    payload: EventPayload,
    *,
    producer: str,
    correlation_id: UUID,
    causation_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wraps a payload in its envelope: event type, schema version and contact id taken from the payload."""
    fields: dict[str, object] = {
        "event_type": payload.EVENT_TYPE,
        "schema_version": payload.SCHEMA_VERSION,
        "producer": producer,
        "contact_id": payload.contact_id,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload.model_dump(mode="json"),
    }
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    return Envelope.model_validate(fields)
