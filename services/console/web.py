"""What every console page shares: the templates, the signed-in person, forms, dates and the service calls."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from schemas.catalogue import OffenceCatalogue
from services.console import presenters, repository
from services.console.settings import ConsoleSettings
from services.console.signin import (
    PAGE_ROLES,
    PAGE_TITLES,
    SignedIn,
    SignIns,
)
from services.console.upstream import ServiceCalls
from services.runtime import clock
from services.runtime.problems import FieldError, ProblemError

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["percent"] = presenters.percent
templates.env.filters["hours"] = presenters.hours_text
templates.env.filters["lastday"] = lambda v: (v - timedelta(days=1)).date()
templates.env.filters["when"] = lambda v: (
    "—" if not v else (v if isinstance(v, datetime) else datetime.fromisoformat(v)).strftime("%d %b %Y %H:%M")
)

RULES = (
    "MISSING_RECORD",
    "LATE_RECORD",
    "UNDER_COUNT",
    "UNJUSTIFIED_NON_CRIME",
    "RAPE_WITHOUT_N100",
    "CANCELLATION_WITHOUT_GROUNDS",
    "CANCELLATION_WRONG_AUTHORITY",
    "CANCELLATION_VICTIM_NOT_TOLD",
    "HIGH_RISK_CANCELLATION",
    "DOWNGRADE",
    "HIDDEN_CRIME_UNREVIEWED",
)
SEVERITIES = ("low", "medium", "high", "critical")
RESOLUTIONS = ("corrected", "justified", "false_positive")
PAGE_SIZE = 50
UPSTREAM_PAGE = 500
CSV_MAX_ROWS = 100_000


def service_calls(request: Request) -> ServiceCalls:
    calls: ServiceCalls = request.app.state.calls
    return calls


def signins_of(request: Request) -> SignIns:
    signins: SignIns = request.app.state.signins
    return signins


def console_settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def catalogue_of(request: Request) -> OffenceCatalogue:
    catalogue: OffenceCatalogue = request.app.state.catalogue
    return catalogue


async def signed_in(request: Request, page: str) -> SignedIn:
    """The signed-in person, refused (403) unless their role may open `page`."""
    person = await signins_of(request).current(request)
    request.state.person = person  # an error page still shows the person's own menu
    person.require(PAGE_ROLES[page], f"The {PAGE_TITLES[page]} page")
    return person


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page (or, for htmx, a fragment) drawn from a template."""
    person = getattr(request.state, "person", None)
    return templates.TemplateResponse(
        request,
        template,
        {"person": person, "titles": PAGE_TITLES, **context},
        status_code=status_code,
    )


async def read_form(request: Request) -> dict[str, str]:
    # Forms are small and flat: parsed here rather than adding a multipart parser for urlencoded bodies.
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise ProblemError(415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.")
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def require_same_origin(request: Request) -> None:
    # SameSite=Strict already keeps the cookie off cross-site posts; an Origin from elsewhere is refused as well.
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise ProblemError(403, "Cross-site request refused", "This action can only be sent from the console.")


def parse_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            422, "Request is not valid", f"{field} must be a date like 2026-05-01.",
            errors=[FieldError(field=f"query.{field}", message="not a date")],
        ) from None  # fmt: skip


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def one_of(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise ProblemError(
            422, "Request is not valid", f"{field} must be one of: {', '.join(allowed)}.",
            errors=[FieldError(field=f"query.{field}", message="not one of the choices")],
        )  # fmt: skip
    return value


# ------------------------------------------------------------------------------------------------ sign-in


async def or_none(coro: Any) -> Any:
    """A service's answer, or the problem it answered with (shown on the page instead of failing it)."""
    try:
        return await coro
    except ProblemError as exc:
        return exc.problem


def period_of(request: Request, default_days: int) -> tuple[datetime, datetime]:
    q = request.query_params
    end_day = parse_day(q.get("to"), "to") or clock.now().date()
    start_day = parse_day(q.get("from"), "from") or end_day - timedelta(days=default_days - 1)
    if end_day < start_day:
        raise ProblemError(422, "Request is not valid", "The period must end on or after the day it starts.")
    if (end_day - start_day).days > 366 * 2:
        raise ProblemError(422, "Request is not valid", "Choose a period of at most two years.")
    return midnight(start_day), midnight(end_day + timedelta(days=1))


async def handled_by_console(request: Request, person: SignedIn, flag_ids: list[int]) -> dict[int, list[Any]]:
    async with request.app.state.sessions() as session, session.begin():
        rows = await repository.alert_actions_of(session, force=person.principal.force, flag_ids=flag_ids)
    by_flag: dict[int, list[Any]] = {}
    for row in rows:
        by_flag.setdefault(row.flag_id, []).append(row)
    return by_flag
