"""The auditor's rule on narrative screening (issue 18), as a pure function: a contact whose narrative the recorder's
screener found to disclose a crime must be reviewed by a person, and any crime recorded, within 24 hours of the
report (NCRS). A review that records the crime after the deadline is LATE_RECORD on that crime, the rule every late
record answers to (`detectors.late_record`): the same breach, flagged once, whichever way the crime came to light.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.auditor.rules.flags import FlagDraft, Rule, Severity

# Families whose offences are against the person: a hidden one left unreviewed is as urgent as a missing record of
# violence; the others (property, fraud) are medium.
AGAINST_THE_PERSON = frozenset({"violence", "sexual", "threats_harassment", "domestic_abuse", "modern_slavery"})


@dataclass(frozen=True)
class ScreenFact:
    """A contact's narrative screen and its review, as the auditor has seen them (no narrative, no names)."""

    contact_id: str
    force: str
    positive: bool
    score: float | None
    families: tuple[str, ...]
    screener_version: str | None
    outcome: str  # the first-contact decision the screen read behind
    received_at: datetime
    review_deadline: datetime
    reviewed_at: datetime | None = None
    review_action: str | None = None  # record | confirm_non_crime
    crime_references: tuple[str, ...] = ()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reviewed_in_time(screen: ScreenFact) -> bool:
    """Whether a person reviewed the screen by its deadline, by the events' own times."""
    return screen.reviewed_at is not None and screen.reviewed_at <= screen.review_deadline


def hidden_crime_unreviewed(screen: ScreenFact, *, now: datetime) -> list[FlagDraft]:
    """HIDDEN_CRIME_UNREVIEWED: a positive screen with no review when its deadline (24 hours from the report) passed.

    Judged as things stood at the deadline: a review made after it does not undo the breach (it cures the flag),
    however late the auditor reads either, so a replay gives the flag live running gave."""
    if not screen.positive or now < screen.review_deadline or reviewed_in_time(screen):
        return []
    families = ", ".join(screen.families) or "no family named"
    score = "" if screen.score is None else f" (score {screen.score:.2f})"
    return [
        FlagDraft(
            rule=Rule.HIDDEN_CRIME_UNREVIEWED,
            severity=Severity.HIGH if AGAINST_THE_PERSON & set(screen.families) else Severity.MEDIUM,
            subject=screen.contact_id,
            explanation=(
                f"Contact received {_iso(screen.received_at)} was closed at first contact as {screen.outcome}, but "
                f"its narrative screened positive for a crime{score}: {families}. Nobody reviewed it by its "
                f"deadline ({_iso(screen.review_deadline)}). Read the narrative: record the crime, or confirm it is "
                "not one with a rationale."
            ),
            evidence={
                "received_at": _iso(screen.received_at),
                "review_deadline": _iso(screen.review_deadline),
                "first_contact_outcome": screen.outcome,
                "families": list(screen.families),
                "score": screen.score,
                "screener_version": screen.screener_version,
            },
        )
    ]
