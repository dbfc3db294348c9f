"""The events of narrative screening: a contact screened at first contact, and a review of a positive screen."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from schemas.catalogue import ForceCode
from schemas.envelope import AwareDatetime
from schemas.payload import EventPayload
from schemas.screening import OffenceFamily, ScreeningResult
from schemas.vocabulary import Actor, CrimeReference, Outcome


class ContactScreened(EventPayload):
    """The recorder screened the narrative of a contact not recorded as a crime at first contact (issue 18), and
    the screen was positive (it is on the review queue, to be reviewed by its recording deadline) or failed (the
    contact went unscreened). A negative screen is kept by the recorder only, with no event."""

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
