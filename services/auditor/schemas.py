"""The auditor's HTTP models: what auditors and supervisors send, and what they read back about contacts, flags,
the clock, statistics and sample audits (webhook subscriptions' are `alerts.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import AwareDatetime
from schemas.events import FlagStatus, Outcome
from services.auditor.rules import statistics
from services.auditor.rules.flags import Rule, Severity


class RecordedCrime(BaseModel):
    """A crime recorded for the contact, as the auditor saw it."""

    crime_reference: str
    ho_class: str
    audit_category: str
    status: str
    recorded_at: datetime
    on_time: bool = Field(description="Recorded by the deadline.")


class FlagRead(BaseModel):
    """An integrity flag: which rule, about what, why, the evidence seen, and where it is in its life."""

    flag_id: int
    rule: Rule
    severity: Severity
    force: str
    contact_id: UUID
    crime_reference: str | None
    audit_category: str | None
    explanation: str
    evidence: dict[str, Any]
    raised_at: datetime
    status: FlagStatus
    resolution: str | None
    cured_by: dict[str, Any] | None


class FlagHistoryEntry(BaseModel):
    """One step in a flag's life."""

    at: datetime
    status: str
    by: str | None
    note: str | None


class FlagDetail(FlagRead):
    """A flag with its history."""

    history: list[FlagHistoryEntry]


class FlagPage(BaseModel):
    """A page of flags; pass `next_after` as `after` for the next page."""

    items: list[FlagRead]
    next_after: int | None
    total: int | None = Field(default=None, description="Flags passing the filters on every page (with_total).")


class AuditedContact(BaseModel):
    """The auditor's view of a contact: what the rules expect, what was recorded, by when, and its flags."""

    contact_id: UUID
    force: str | None
    received_at: datetime | None = Field(description="None until `contact.received` has been seen.")
    recording_deadline: datetime | None
    expected_crimes: int | None = Field(description="Crimes the counting rules require now.")
    outcome: Outcome | None = Field(description="The recorder's decision, once seen.")
    recorded_crimes: list[RecordedCrime]
    status: str = Field(
        description="`awaiting_report`, `awaiting_decision`, `recorded`, `under_recorded`, `not_recorded` or `decided`."
    )
    flags: list[FlagRead]


class FlagAcknowledgement(BaseModel):
    """A supervisor has seen the flag and is dealing with it."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=4000)


class FlagResolution(BaseModel):
    """How a flag was resolved."""

    model_config = ConfigDict(extra="forbid")

    resolution: Literal["corrected", "justified", "false_positive"]
    note: str = Field(min_length=1, max_length=4000)


def flag_read(row: Any) -> FlagRead:
    """A flag as stored, as auditors read it."""
    return FlagRead.model_validate(row._mapping)


class ClockReading(BaseModel):
    """Where the auditor's clock stands: deadlines up to `now` have been judged."""

    mode: Literal["live", "event_time"] = Field(
        description="live: the wall clock; event_time: the events' own times (replays and simulations)."
    )
    now: datetime | None = Field(description="The time deadlines are judged by; null before any event is read.")
    caught_up: bool = Field(description="Every event given to the auditor so far has been handled.")


class Rate(BaseModel):
    """A proportion with its 95% Wilson interval, as the inspectorate reports it (e.g. 83.6% ± 1.85%)."""

    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator ÷ denominator; null with nothing to measure.")
    ci_low: float | None
    ci_high: float | None
    margin: float | None = Field(description="Half the interval's width.")


def rate_read(p: statistics.Proportion) -> Rate:
    """A proportion and its interval, as the inspectorate reports it."""
    return Rate(numerator=p.successes, denominator=p.trials, rate=p.rate, ci_low=p.low, ci_high=p.high, margin=p.margin)


class RecordingRate(Rate):
    """A recording rate with the contacts whose narrative screened positive and nobody has reviewed yet: they are not
    counted in numerator or denominator (the rate is of the decided contacts), and the interval is widened to hold
    both extremes — from the 95% lower bound if every undecided contact is an unrecorded crime to the 95% upper
    bound if none is a crime."""

    undecided_screened_positive: int = Field(
        description="Contacts in the group whose narrative screened positive for a crime, with no review yet."
    )
    rate_if_undecided_are_crimes: float | None = Field(
        description="numerator ÷ (denominator + undecided): the rate if every undecided contact is a crime."
    )
    decided_ci_low: float | None = Field(description="The decided contacts' own 95% lower bound.")


def recording_rate_read(b: statistics.BoundedRate) -> RecordingRate:
    """A recording rate, its interval widened for the undecided screened-positive contacts."""
    p = b.decided
    return RecordingRate(
        numerator=p.successes, denominator=p.trials, rate=p.rate, ci_low=b.low, ci_high=b.high, margin=b.margin,
        undecided_screened_positive=b.undecided, rate_if_undecided_are_crimes=b.rate_if_all_crimes,
        decided_ci_low=p.low,
    )  # fmt: skip


class RecordingStats(BaseModel):
    """Recording rates for a force and period: crimes recorded ÷ crimes that should have been recorded."""

    force: str
    period_from: datetime
    period_to: datetime
    recording_rate: dict[str, RecordingRate] = Field(
        description="overall, violence, sexual_offences, rape; each with the screened-positive contacts undecided."
    )
    recorded_within_limit: Rate = Field(description="Share of recorded crimes recorded within 24 hours.")
    recorded_crime_12_months: int = Field(description="R: crimes recorded in the 12 months to the period's end.")
    unrecorded_crimes_per_year: float | None = Field(description="The inspectorate's estimate: R × (1 − r) / r.")


class RecordingSeries(BaseModel):
    """Recording rates for a force, week by week from the period's start (the last week may be shorter)."""

    force: str
    period_from: datetime
    period_to: datetime
    weeks: list[RecordingStats]


class CancellationRow(BaseModel):
    """Cancellations of one audit category and how many the rules judge correct ("x of n correct")."""

    audit_category: str
    cancellations: int
    correct: int
    summary: str
    correct_rate: Rate


class CancellationReasonRow(BaseModel):
    """Removals under one reason (C1 transfer, C2 verifiable information, C3 duplicate, C4 error), "x of n correct",
    with each audit category's share of them."""

    code: str
    reason: str
    cancellations: int
    correct: int
    summary: str
    correct_rate: Rate
    categories: list[CancellationRow]


class CancellationStats(BaseModel):
    """Cancellations and transfers decided by a person, by the inspectorate's four audit categories and by reason."""

    force: str
    period_from: datetime
    period_to: datetime
    categories: list[CancellationRow]
    by_reason: list[CancellationReasonRow] = Field(default_factory=list)


class AuditCreate(BaseModel):
    """A sample audit: draw a reproducible random sample of the force's contacts from a period."""

    model_config = ConfigDict(extra="forbid")

    period_from: AwareDatetime
    period_to: AwareDatetime
    size: int = Field(ge=1, le=5000, description="How many contacts to sample (the inspectorate: hundreds).")
    stratify: bool = Field(
        default=True, description="Stratify by the audit category of the most serious reported offence."
    )
    seed: int | None = Field(default=None, ge=0, le=2**62, description="Give it to redraw the same sample.")


class AuditItemRead(BaseModel):
    """One sampled contact and the auditor's judgement on it."""

    item_no: int
    contact_id: UUID
    stratum: str
    crimes_required: int | None = Field(description="How many crimes should have been recorded (judged).")
    crimes_correctly_recorded: int | None
    judged_by: str | None
    judged_at: datetime | None
    note: str | None


class AuditResult(BaseModel):
    """What the judgements so far show."""

    judged: int
    recording_rate: Rate
    recorded_crime_12_months: int
    unrecorded_crimes_per_year: float | None


class AuditRead(BaseModel):
    """A sample audit, its items, and the recording rate its judgements give."""

    audit_id: UUID
    force: str
    created_by: str
    created_at: datetime
    period_from: datetime
    period_to: datetime
    size: int
    stratified: bool
    seed: int
    population: int
    items: list[AuditItemRead]
    result: AuditResult


class AuditJudgement(BaseModel):
    """An auditor's judgement on one sampled contact, as the inspectorate records it."""

    model_config = ConfigDict(extra="forbid")

    crimes_required: int = Field(ge=0, le=200, description="Crimes that should have been recorded (0: none).")
    crimes_correctly_recorded: int = Field(ge=0, le=200, description="Of those, how many were correctly recorded.")
    note: str | None = Field(default=None, max_length=4000)
