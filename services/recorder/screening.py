"""Narrative screening in the recorder (issue 18): every contact not recorded as a crime at first contact has its
free text screened, in the transaction that stores the decision; a positive screen waits on the review queue for a
supervisor or decision maker to record the crime or confirm the decision, with a rationale."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.contacts import ContactCreate, ReportedOffence
from schemas.events import Actor, ContactScreened, Outcome, ReviewAction, ScreeningReviewed
from schemas.screening import ScreeningResult
from services.recorder import repository
from services.recorder.pending import decision_in_question, write_resolution
from services.recorder.recording import Events, RecorderPolicy, Writes
from services.recorder.rules.decision import Decision
from services.recorder.rules.resolution import Resolution, resolve
from services.recorder.screening_model import Screener
from services.runtime import clock
from services.runtime.messaging import UnitOfWork
from services.runtime.refusals import Refused

log = logging.getLogger("crimerec.recorder.screening")

FAILED = "failed"
"""The stored mode of a contact whose screening raised: it was not screened (and says so)."""


def needs_screening(decision: Decision) -> bool:
    """Whether first contact left the contact without a crime recorded here: non-crime, CRI, N100, or a crime
    recorded only to be transferred to another force. A pending contact waits for a person, who reads it."""
    if decision.outcome is Outcome.PENDING:
        return False
    return decision.outcome is not Outcome.RECORDED or decision.transfer_to is not None


def screen_safely(screener: Screener, contact: ContactCreate, contact_id: UUID) -> tuple[ScreeningResult | None, str]:
    """The screener's verdict, or None and the kind of error when it raised: screening never fails the batch."""
    try:
        return screener.screen_contact(contact), ""
    except Exception as error:  # any defect of the screener must leave the contact decided and stored
        # Only the error's type: a message could quote the narrative, which the log must never hold.
        log.error("screening failed; the contact is stored unscreened", extra={"contact_id": str(contact_id),
                  "error_type": type(error).__name__})  # fmt: skip
        return None, f"screening raised {type(error).__name__}"


def screen_at_first_contact(
    writes: Writes,
    events: Events,
    *,
    contact: ContactCreate,
    contact_id: UUID,
    decision: Decision,
    now: datetime,
    screener: Screener,
) -> None:
    """Screens a contact first contact did not record as a crime: stores the verdict, and emits `contact.screened`
    when it is positive (a review falls due, which the auditor watches) or failed (the auditor keeps that the
    contact went unscreened). A negative is kept here only (`GET /v1/contacts/{id}/screening` serves it): most
    contacts screened are, and an event each would cost the database more than the screening itself."""
    result, problem = screen_safely(screener, contact, contact_id)
    writes.screenings.append(
        {
            "contact_id": contact_id,
            "force": contact.force,
            "score": None if result is None else result.score,
            "positive": False if result is None else result.positive,
            "families": [] if result is None else [f.value for f in result.families],
            "evidence": [] if result is None else list(result.evidence),
            "screener_version": None if result is None else result.screener_version,
            "mode": FAILED if result is None else result.mode.value,
            "truncated": False if result is None else result.truncated,
            "screened_at": now,
            # NCRS: a crime must be recorded within 24 hours of the report, however it comes to light.
            "review_deadline": decision.recording_deadline,
            "reviewed_at": None,
            "reviewed_by": None,
            "review_outcome": None,
            "review_rationale": None,
        }
    )
    if result is not None and not result.positive:
        return
    events.emit(
        ContactScreened(
            contact_id=contact_id,
            force=contact.force,
            outcome=decision.outcome,
            transfer_to=decision.transfer_to,
            received_at=contact.received_at,
            screened_at=now,
            review_deadline=decision.recording_deadline,
            screened=result is not None,
            result=result,
            problem=problem or None,
        )
    )


@dataclass(frozen=True)
class Review:
    """A person's review of a positive screen: record the crime (with its offences) or confirm non-crime."""

    action: ReviewAction
    rationale: str
    offences: tuple[ReportedOffence, ...] = ()


async def review_screening(
    uow: UnitOfWork, *, contact_id: UUID, by: Actor, review: Review, policy: RecorderPolicy
) -> Refused | list[str]:
    """Reviews a positive screen of the reviewer's force once: records the crime by the normal record path, or
    confirms the decision not to record one; emits `screening.reviewed`. Returns the crimes recorded."""
    session = uow.session
    screening = await repository.lock_screening(session, contact_id)
    if screening is None or screening.force != by.force:
        return Refused(404, "Not found", f"No screening for contact {contact_id} in {by.force}.")
    if not screening.positive:
        return Refused(409, "Nothing to review", f"The screen of contact {contact_id} was negative: no review is due.")
    if screening.reviewed_at is not None:
        return Refused(
            409, "Already reviewed",
            f"The screen of contact {contact_id} was already reviewed: {screening.review_outcome}.",
        )  # fmt: skip
    references: list[str] = []
    now = clock.now()
    if review.action is ReviewAction.RECORD:
        recorded = await _record(uow, contact_id=contact_id, by=by, review=review, policy=policy, now=now)
        if isinstance(recorded, Refused):
            return recorded
        references = recorded
    await repository.update_screening(
        session, contact_id, reviewed_at=now, reviewed_by=by.principal, review_outcome=review.action.value,
        review_rationale=review.rationale,
    )  # fmt: skip
    current = await repository.get_decision(session, contact_id)
    assert current is not None
    Events(uow, correlation_id=contact_id, at=now).emit(
        ScreeningReviewed(
            contact_id=contact_id, force=screening.force, action=review.action, rationale=review.rationale,
            crime_references=references, families=screening.families, received_at=current.received_at,
            review_deadline=screening.review_deadline, reviewed_at=now, reviewed_by=by,
        )
    )  # fmt: skip
    return references


async def _record(
    uow: UnitOfWork, *, contact_id: UUID, by: Actor, review: Review, policy: RecorderPolicy, now: datetime
) -> Refused | list[str]:
    """The review records the crime: counted by the rules as a person's decision to record, the deadline kept."""
    current = await repository.lock_decision(uow.session, contact_id)
    assert current is not None
    contact, pending = await decision_in_question(uow.session, current)
    resolution = Resolution(outcome=Outcome.RECORDED, rationale=review.rationale, offences=review.offences)
    decision = resolve(pending, resolution, catalogue=policy.catalogue, limit=policy.limit)
    if isinstance(decision, Refused):
        return decision
    return await write_resolution(
        uow, contact=contact, contact_id=contact_id, current=current, decision=decision, by=by, now=now,
        credible_evidence=None, policy=policy,
    )  # fmt: skip
