"""The auditor's side of narrative screening (issue 18): it keeps each screen and its review, and judges
HIDDEN_CRIME_UNREVIEWED the moment it can be known — when the deadline passes unreviewed (the sweep, by the live or
the event-time clock), or when a review made after the deadline is read (whichever comes first), so a replay gives
the flag live running gave. A late review cures the flag; the crime it records late is LATE_RECORD's."""

from __future__ import annotations

from datetime import datetime

from schemas.envelope import Envelope
from schemas.events import ContactScreened, ScreeningReviewed
from services.auditor import screening_repository as repo
from services.auditor.ledger import FlagLedger
from services.auditor.rules.flags import Rule
from services.auditor.rules.screening import hidden_crime_unreviewed
from services.runtime.messaging import UnitOfWork


async def screened(uow: UnitOfWork, screen: ContactScreened) -> None:
    """Keeps a contact's screen: the verdict, never the narrative."""
    result = screen.result
    await repo.upsert_screen(
        uow.session,
        {
            "contact_id": screen.contact_id,
            "force": screen.force,
            "outcome": screen.outcome.value,
            "screened": screen.screened,
            "positive": bool(result and result.positive),
            "score": result.score if result else None,
            "families": [f.value for f in result.families] if result else [],
            "screener_version": result.screener_version if result else None,
            "received_at": screen.received_at,
            "screened_at": screen.screened_at,
            "review_deadline": screen.review_deadline,
        },
    )


async def reviewed(uow: UnitOfWork, envelope: Envelope, review: ScreeningReviewed) -> None:
    """Notes a review; one made after the deadline shows the screen had none when it passed: that is the flag
    (raised now if the sweep has not raised it yet), and the review cures it."""
    row = await repo.record_review(
        uow.session, review.contact_id, reviewed_at=review.reviewed_at, action=review.action.value,
        crime_references=list(review.crime_references),
    )  # fmt: skip
    if row is None:
        return  # a review of a screen the auditor never saw (its event lost upstream): nothing to judge it by
    ledger = FlagLedger()
    fact = repo.screen_fact(row)
    drafts = hidden_crime_unreviewed(fact, now=review.reviewed_at)
    ledger.raise_(drafts, force=fact.force, contact_id=review.contact_id, at=fact.review_deadline)
    if drafts:
        what = "recorded " + ", ".join(review.crime_references) if review.crime_references else "confirmed non-crime"
        ledger.cure(
            Rule.HIDDEN_CRIME_UNREVIEWED, str(review.contact_id), envelope,
            f"reviewed after the deadline on {review.reviewed_at.isoformat()}: {what}",
        )  # fmt: skip
    await ledger.write(uow)


async def sweep(uow: UnitOfWork, ledger: FlagLedger, *, now: datetime) -> int:
    """Judges every positive screen whose review deadline `now` has passed; returns how many it judged."""
    due = await repo.screens_due(uow.session, now=now)
    for row in due:
        fact = repo.screen_fact(row)
        drafts = hidden_crime_unreviewed(fact, now=now)
        ledger.raise_(drafts, force=fact.force, contact_id=row.contact_id, at=fact.review_deadline)
    if due:
        await repo.mark_screens_checked(uow.session, [row.contact_id for row in due])
    return len(due)
