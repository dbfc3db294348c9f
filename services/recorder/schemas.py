"""The recorder's HTTP models: `XCreate` in (unknown fields refused), `XRead` / `XPage` out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.catalogue import ForceCode, HoClass
from schemas.contacts import ReportedOffence
from schemas.envelope import AwareDatetime
from schemas.events import (
    CancellationCode,
    CrimeReference,
    Outcome,
    ReviewAction,
    VerifiableInformation,
)
from schemas.screening import OffenceFamily


class CrimeRead(BaseModel):
    """A crime record."""

    crime_reference: str = Field(description="Unique per force and year, e.g. `GMP-2026-000123`.")
    contact_id: UUID
    force: str
    victim_ref: str | None
    ho_class: str = Field(description="Home Office class, e.g. `8N` assault with injury.")
    offence_group: str
    audit_category: str
    offender_ref: str | None
    incident_ref: str | None
    status: str
    received_at: datetime
    recorded_at: datetime
    recording_deadline: datetime = Field(description="received_at + 24 h: when it had to be recorded by.")
    transfer_to: str | None
    rules_version: str
    recorded_by: str | None = Field(description="Who recorded it; null when the rules did at first contact.")


class HistoryEntry(BaseModel):
    """One change in a crime's life."""

    at: datetime
    event_type: str
    by: str | None
    detail: dict[str, Any]


class CrimeDetail(CrimeRead):
    """A crime record with its whole history (nothing is ever deleted)."""

    history: list[HistoryEntry]


class CrimePage(BaseModel):
    """A page of crime records; pass `next_after` as `after` for the next page."""

    items: list[CrimeRead]
    next_after: str | None


class DecisionRead(BaseModel):
    """The recording decision for a contact."""

    contact_id: UUID
    force: str
    outcome: Outcome
    rationale: str
    problems: list[str]
    rules_version: str
    received_at: datetime
    recording_deadline: datetime
    decided_at: datetime
    decided_by: str | None
    transfer_to: str | None
    n100: bool
    crime_references: list[str]


class PendingPage(BaseModel):
    """Pending decisions, oldest deadline first: the work queue."""

    items: list[DecisionRead]


class DecisionCreate(BaseModel):
    """A person's decision on a pending contact."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "recorded",
                    "rationale": "Victim confirmed the assault by phone.",
                    "offences": [{"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None}],
                },
                {"outcome": "cri", "rationale": "CCTV reviewed.", "credible_evidence": "CCTV shows no contact."},
            ]
        },
    )

    outcome: Literal[Outcome.RECORDED, Outcome.CRI, Outcome.NON_CRIME, Outcome.N100]
    rationale: str = Field(min_length=1, max_length=4000, description="Why, in words an auditor can check.")
    offences: list[ReportedOffence] = Field(
        default_factory=list, max_length=200, description="outcome recorded: the offences, counted by the rules."
    )
    credible_evidence: str | None = Field(default=None, max_length=4000, description="outcome cri: the evidence.")
    closing_category: str | None = Field(default=None, max_length=100, description="outcome non_crime: NSIR closing.")


class ReclassificationCreate(BaseModel):
    """A new Home Office class for a recorded crime."""

    model_config = ConfigDict(extra="forbid")

    new_class: HoClass
    reason: str = Field(min_length=1, max_length=4000)
    new_information: bool = Field(description="Whether new information came to light; a downgrade needs it.")
    new_information_detail: str | None = Field(default=None, max_length=4000)


class CancellationRequestCreate(BaseModel):
    """A request to cancel (C2–C4) or transfer (C1) a recorded crime, with what its code must carry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "C2",
                    "explanation": "CCTV shows the phone was dropped, not taken.",
                    "avi": {"description": "CCTV of the whole incident", "held_at": "CCTV ref MCR-7781, exhibit JB/1"},
                    "victim_informed": True,
                    "victim_informed_at": "2026-11-03T10:00:00Z",
                },
                {
                    "code": "C1",
                    "explanation": "Committed in Cumbria.",
                    "receiving_force": "CUM",
                    "victim_informed": False,
                },
            ]
        },
    )

    code: CancellationCode
    explanation: str = Field(min_length=1, max_length=4000)
    receiving_force: ForceCode | None = None
    avi: VerifiableInformation | None = None
    duplicate_of: CrimeReference | None = None
    error: str | None = Field(default=None, max_length=4000)
    victim_informed: bool
    victim_informed_at: AwareDatetime | None = None


class CancellationDecisionCreate(BaseModel):
    """An authoriser's decision on a cancellation request."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=4000, description="Why approved or rejected.")


class CancellationRequestRead(BaseModel):
    """A cancellation request and its decision."""

    request_id: UUID
    crime_reference: str
    force: str
    code: CancellationCode
    grounds: dict[str, Any]
    requested_by: dict[str, Any]
    requested_at: datetime
    victim_informed: bool
    victim_informed_at: datetime | None
    status: str
    decided_by: dict[str, Any] | None
    decided_at: datetime | None
    decision_note: str | None


class VictimNotificationCreate(BaseModel):
    """That, when and how the victim was told of the cancellation or transfer of their crime."""

    model_config = ConfigDict(extra="forbid")

    notified_at: AwareDatetime
    method: str = Field(min_length=1, max_length=200, description="phone, letter, in person, email…")


class ScreeningRead(BaseModel):
    """The narrative screener's verdict on a contact not recorded at first contact, and its review."""

    contact_id: UUID
    force: str
    score: float | None = Field(description="0 to 1; null when screening failed.")
    positive: bool = Field(description="Whether a person must review the decision not to record a crime.")
    families: list[OffenceFamily] = Field(description="Offence families the text suggests, strongest first.")
    evidence: list[str] = Field(description="The phrases and model features that drove the score.")
    screener_version: str | None
    mode: str = Field(description="rules+model, rules-only, or failed (not screened).")
    truncated: bool = Field(description="Whether the text was longer than the screener reads and was cut.")
    screened_at: datetime
    review_deadline: datetime = Field(description="received_at + 24 h: review (and record) by then.")
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_outcome: ReviewAction | None
    review_rationale: str | None


class ReviewPage(BaseModel):
    """Positive screens waiting for review, nearest deadline first; pass `next_after` as `after` for the next page."""

    items: list[ScreeningRead]
    next_after: str | None = Field(description="Opaque cursor: the last item's deadline and contact id.")


class ReviewCreate(BaseModel):
    """A supervisor's or decision maker's review of a positive screen."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "record",
                    "offences": [{"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None}],
                    "rationale": "The narrative discloses a punch causing a cut lip: assault with injury.",
                },
                {"action": "confirm_non_crime", "rationale": "The 'attack' was a dog barking; no offence disclosed."},
            ]
        },
    )

    action: ReviewAction
    rationale: str = Field(min_length=1, max_length=4000, description="Why, in words an auditor can check.")
    offences: list[ReportedOffence] = Field(
        default_factory=list, max_length=200, description="action record: the offences, counted by the rules."
    )

    @model_validator(mode="after")
    def _offences_agree(self) -> ReviewCreate:
        if not self.rationale.strip():
            raise ValueError("rationale must say why")
        if self.action is ReviewAction.RECORD and not self.offences:
            raise ValueError("a review that records names the offences")
        if self.action is ReviewAction.CONFIRM_NON_CRIME and self.offences:
            raise ValueError("a review confirming non-crime names no offences")
        return self
