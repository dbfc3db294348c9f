"""The payloads of the events the services publish, and the registry from event type to its payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas import topics
from schemas.catalogue import AuditCategory, ForceCode, HoClass
from schemas.contacts import ContactCreate, Ref
from schemas.envelope import AwareDatetime, Envelope
from schemas.screening import OffenceFamily, ScreeningResult

CrimeReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$",
        description="A crime reference number, as the recorder issues it (e.g. GMP-2026-000123).",
    ),
]
"""A crime reference number."""

RulesVersion = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description="The version of the rules (and offence catalogue) that made the decision.",
    ),
]
"""Which rules made a decision: every decision stores it (domain.md, The recording decision)."""


class Role(StrEnum):
    """What a principal may do (design.md, Security and privacy)."""

    CALL_HANDLER = "call_handler"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DDM = "ddm"
    FCR = "fcr"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Outcome(StrEnum):
    """A recording decision (NCRS): recorded, pending, crime-related incident, N100 or non-crime incident."""

    RECORDED = "recorded"
    PENDING = "pending"
    CRI = "cri"
    N100 = "n100"
    NON_CRIME = "non_crime"


class Actor(BaseModel):
    """Who did something: a person or a calling system, with their roles and force."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # additive evolution, as EventPayload

    principal: str = Field(min_length=1, max_length=200, description="The principal's id: an API key id or a user id.")
    roles: list[Role] = Field(default_factory=list, max_length=len(Role), description="The principal's roles.")
    force: ForceCode = Field(description="The force the principal belongs to.")


class EventPayload(BaseModel):
    """The payload of an event about a contact: immutable; fields a newer producer added are ignored on read."""

    # design.md: additive evolution only. An older consumer must accept an event a newer producer enriched,
    # so unknown payload fields are ignored rather than sending the event to the .dlq.
    model_config = ConfigDict(extra="ignore", frozen=True)

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    contact_id: UUID = Field(
        description="The contact the event is about: intake's id for it, and the Kafka key of every event "
        "about it and the crimes recorded from it."
    )


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


class CancellationCode(StrEnum):
    """Why a recorded crime may be removed (domain.md, Removing a recorded crime); nothing else is a reason."""

    C1 = "C1"  # transfer: committed outside the force's area
    C2 = "C2"  # additional verifiable information shows no notifiable crime occurred
    C3 = "C3"  # duplicate, or part of a crime already recorded
    C4 = "C4"  # recorded in error


class VerifiableInformation(BaseModel):
    """Additional verifiable information (AVI): what it is and where it is held. Opinion is not AVI."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    description: str = Field(min_length=1, max_length=2000, description="What the information shows.")
    held_at: str = Field(min_length=1, max_length=500, description="Where it is held: CCTV ref, statement, …")


class CancellationGrounds(BaseModel):
    """The reason for removing a crime, with what its code must carry. Events carry it as given, so the auditor
    can judge a malformed one; the recorder refuses structurally incomplete requests before they are stored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: CancellationCode
    explanation: str = Field(min_length=1, max_length=4000, description="Why, in the requester's words.")
    receiving_force: ForceCode | None = Field(default=None, description="C1: the force the crime goes to.")
    avi: VerifiableInformation | None = Field(default=None, description="C2: the additional verifiable information.")
    duplicate_of: CrimeReference | None = Field(default=None, description="C3: the crime this one duplicates.")
    error: str | None = Field(default=None, max_length=4000, description="C4: what was recorded in error.")


class AuthorityMode(StrEnum):
    """How the recorder applies the cancellation authority matrix (force policy)."""

    ENFORCE = "enforce"  # an authoriser below the matrix is refused
    AUDIT = "audit"  # accepted and recorded; the auditor flags it


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


class ContactScreened(EventPayload):
    """The recorder screened the narrative of a contact not recorded as a crime at first contact (issue 18): a
    positive screen puts it on the review queue, to be reviewed by its recording deadline."""

    EVENT_TYPE: ClassVar[str] = "contact.screened"

    force: ForceCode
    outcome: Outcome = Field(description="The first-contact decision the screen reads behind.")
    transfer_to: ForceCode | None = Field(default=None, description="Set when the decision was a transfer.")
    received_at: AwareDatetime = Field(description="When the report first reached the police.")
    screened_at: AwareDatetime
    review_deadline: AwareDatetime = Field(
        description="received_at + 24 h: a positive screen must be reviewed (and any crime recorded) by then."
    )
    screened: bool = Field(description="False when screening failed for this contact: it was not screened.")
    result: ScreeningResult | None = Field(default=None, description="The screener's verdict; null if it failed.")
    problem: str | None = Field(
        default=None, max_length=200, description="Why screening failed (the error's kind, never the narrative)."
    )

    @model_validator(mode="after")
    def _result_agrees(self) -> ContactScreened:
        if self.screened != (self.result is not None):
            raise ValueError("a screened contact carries its result, and only a screened one")
        return self


class ReviewAction(StrEnum):
    """What the person reviewing a positive screen decided."""

    RECORD = "record"
    CONFIRM_NON_CRIME = "confirm_non_crime"


class ScreeningReviewed(EventPayload):
    """A supervisor or decision maker reviewed a positive screen: recorded the crime, or confirmed the decision not
    to record one, with a written rationale."""

    EVENT_TYPE: ClassVar[str] = "screening.reviewed"

    force: ForceCode
    action: ReviewAction
    rationale: str = Field(min_length=1, max_length=4000, description="Why, in words an auditor can check.")
    crime_references: list[CrimeReference] = Field(
        default_factory=list, max_length=200, description="action record: the crimes recorded by the review."
    )
    families: list[OffenceFamily] = Field(
        default_factory=list, max_length=len(OffenceFamily), description="The families the screen suggested."
    )
    received_at: AwareDatetime
    review_deadline: AwareDatetime
    reviewed_at: AwareDatetime
    reviewed_by: Actor

    @model_validator(mode="after")
    def _action_agrees(self) -> ScreeningReviewed:
        if (self.action is ReviewAction.RECORD) != bool(self.crime_references):
            raise ValueError("a review that records names its crime references, and only such a review")
        return self


class FlagStatus(StrEnum):
    """Where a flag is in its life: open → acknowledged → resolved; or cured by a later event."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CURED = "cured"


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
