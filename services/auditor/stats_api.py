"""The auditor's recording statistics, as the inspectorate reports them: recording rates (for a period, or week by
week) and cancellations judged, scoped to the caller's force."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from schemas.envelope import AwareDatetime
from schemas.events import Role
from services.auditor import repository, service
from services.auditor.rules import statistics
from services.auditor.schemas import (
    CancellationReasonRow,
    CancellationRow,
    CancellationStats,
    RecordingSeries,
    RecordingStats,
    rate_read,
    recording_rate_read,
)
from services.runtime.auth import Principal, require_own_force, require_roles
from services.runtime.problems import PROBLEM_RESPONSES, ProblemError
from services.runtime.routes import reading

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

WEEK = timedelta(days=7)
MAX_WEEKS = 520

From = Annotated[AwareDatetime, Query(alias="from", description="Contacts received from (inclusive).")]
To = Annotated[AwareDatetime, Query(alias="to", description="… to (exclusive).")]
ForceQuery = Annotated[str | None, Query(max_length=10)]
Published = Annotated[
    int | None, Query(ge=0, description="R as published, if you want it instead of the auditor's own count.")
]

STATS_READERS = require_roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR)
StatsReader = Annotated[Principal, STATS_READERS]


def _period(force: str | None, principal: Principal, start: datetime, end: datetime) -> str:
    require_own_force(principal, force, "figures")
    if start.tzinfo is None or end.tzinfo is None:
        raise ProblemError(422, "Request is not valid", "from and to must carry a timezone (e.g. 2026-05-01T00:00Z).")
    if end <= start:
        raise ProblemError(422, "Request is not valid", "to must be after from.")
    if start.year < 1900 or end.year > 9000:
        # The rates count back a year from `to`: a period at the ends of the calendar has no such year.
        raise ProblemError(422, "Request is not valid", "from and to must lie between the years 1900 and 9000.")
    return principal.force


@router.get("/stats/recording", response_model=RecordingStats, tags=["statistics"], summary="Recording rates")
async def recording_stats(
    request: Request,
    principal: StatsReader,
    start: From,
    end: To,
    force: ForceQuery = None,
    recorded_crime_12_months: Published = None,
) -> RecordingStats:
    """Recording rate overall and for violence, sexual offences and rape, each with a 95% Wilson interval (widened
    for contacts whose narrative screened positive and nobody has reviewed yet, counted apart); the
    share recorded within 24 hours; and the estimated unrecorded crimes a year, by the inspectorate's method."""
    own, ((a, b, figures),) = await _recordings(request, principal, force, start, end)
    return _recording_read(own, a, b, figures, recorded_crime_12_months)


@router.get(
    "/stats/recording/weekly", response_model=RecordingSeries, tags=["statistics"], summary="Recording rates by week"
)
async def weekly_recording_stats(
    request: Request,
    principal: StatsReader,
    start: From,
    end: To,
    force: ForceQuery = None,
    recorded_crime_12_months: Published = None,
) -> RecordingSeries:
    """The recording rates of `/stats/recording` for each week of the period from `from` (the last week may be
    shorter), counted in one pass: each contact in the week it was received, so the weeks' numerators and
    denominators add up to the period's. At most 520 weeks."""
    if end - start > WEEK * MAX_WEEKS:
        raise ProblemError(422, "Request is not valid", f"from and to may be at most {MAX_WEEKS} weeks apart.")
    own, weeks = await _recordings(request, principal, force, start, end, width=WEEK)
    return RecordingSeries(
        force=own,
        period_from=start,
        period_to=end,
        weeks=[_recording_read(own, a, b, figures, recorded_crime_12_months) for a, b, figures in weeks],
    )


async def _recordings(
    request: Request,
    principal: Principal,
    force: str | None,
    start: datetime,
    end: datetime,
    width: timedelta | None = None,
) -> tuple[str, list[tuple[datetime, datetime, service.RecordingStatistics]]]:
    """The caller's force and its recording figures for the period (or each part `width` long), the read logged."""
    own = _period(force, principal, start, end)
    async with reading(request, principal) as route:
        route.touches("statistics", f"recording:{own}")
        return own, await service.recording_statistics(route.session, force=own, start=start, end=end, width=width)


def _recording_read(
    force: str, start: datetime, end: datetime, figures: service.RecordingStatistics, published: int | None
) -> RecordingStats:
    overall = figures.tally.rate("overall")
    annual = published if published is not None else figures.recorded_12_months
    return RecordingStats(
        force=force,
        period_from=start,
        period_to=end,
        recording_rate={
            group: recording_rate_read(figures.tally.bounded_rate(group)) for group in statistics.REPORTED_GROUPS
        },
        recorded_within_limit=rate_read(figures.tally.within_limit()),
        recorded_crime_12_months=annual,
        unrecorded_crimes_per_year=statistics.unrecorded_per_year(annual, overall.rate),
    )


@router.get(
    "/stats/cancellations", response_model=CancellationStats, tags=["statistics"], summary="Cancellations judged"
)
async def cancellation_stats(
    request: Request,
    principal: StatsReader,
    start: From,
    end: To,
    force: ForceQuery = None,
) -> CancellationStats:
    """Per audit category (rape, other sexual, violence, robbery): cancellations, how many the rules judge correct
    (grounds complete, right authority), and "x of n correct", like the inspectorate's table."""
    own = _period(force, principal, start, end)
    async with reading(request, principal) as route:
        route.touches("statistics", f"cancellations:{own}")
        rows = await repository.removals_between(route.session, force=own, start=start, end=end)
    by_reason = []
    for code, reason in REMOVAL_REASONS.items():
        of_code = [r for r in rows if r.code == code]
        judged = statistics.wilson(sum(1 for r in of_code if r.judged_correct), len(of_code))
        by_reason.append(
            CancellationReasonRow(code=code, reason=reason, **_judged_row(judged), categories=_judged_table(of_code))
        )
    return CancellationStats(
        force=own, period_from=start, period_to=end, categories=_judged_table(rows), by_reason=by_reason
    )


REMOVAL_REASONS = {
    "C1": "transferred: committed outside the force's area",
    "C2": "additional verifiable information: no notifiable crime occurred",
    "C3": "duplicate, or part of a crime already recorded",
    "C4": "recorded in error",
}


def _judged_row(judged: statistics.Proportion) -> dict[str, Any]:
    return {"cancellations": judged.trials, "correct": judged.successes, "correct_rate": rate_read(judged),
            "summary": f"{judged.successes} of {judged.trials} correct"}  # fmt: skip


def _judged_table(rows: Sequence[Any]) -> list[CancellationRow]:
    """Per audit category: "x of n correct", like the inspectorate's table."""
    judged = statistics.cancellations_judged((r.audit_category, r.judged_correct) for r in rows)
    return [CancellationRow(audit_category=category, **_judged_row(p)) for category, p in judged]
