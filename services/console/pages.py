"""The console's pages and actions under /console: each checks the person's role server-side, then asks the
services with the person's own key (so each service checks role and force again)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.catalogue import OffenceCatalogue
from schemas.events import FlagStatus
from services.console import presenters, repository
from services.console.settings import ConsoleSettings
from services.console.signin import (
    ALERT_HANDLERS,
    AUDIT_JUDGES,
    COOKIE,
    PAGE_ROLES,
    PAGE_TITLES,
    NotSignedIn,
    SignedIn,
    SignIns,
)
from services.console.upstream import ServiceCalls
from services.runtime import clock
from services.runtime.problems import FieldError, ProblemError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)
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
)
SEVERITIES = ("low", "medium", "high", "critical")
RESOLUTIONS = ("corrected", "justified", "false_positive")
PAGE_SIZE = 50
UPSTREAM_PAGE = 500
CSV_MAX_ROWS = 100_000


def _calls(request: Request) -> ServiceCalls:
    calls: ServiceCalls = request.app.state.calls
    return calls


def _signins(request: Request) -> SignIns:
    signins: SignIns = request.app.state.signins
    return signins


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def _catalogue(request: Request) -> OffenceCatalogue:
    catalogue: OffenceCatalogue = request.app.state.catalogue
    return catalogue


async def _person(request: Request, page: str) -> SignedIn:
    """The signed-in person, refused (403) unless their role may open `page`."""
    person = await _signins(request).current(request)
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


async def _form(request: Request) -> dict[str, str]:
    # Forms are small and flat: parsed here rather than adding a multipart parser for urlencoded bodies.
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise ProblemError(415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.")
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _same_origin(request: Request) -> None:
    # SameSite=Strict already keeps the cookie off cross-site posts; an Origin from elsewhere is refused as well.
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise ProblemError(403, "Cross-site request refused", "This action can only be sent from the console.")


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            422, "Request is not valid", f"{field} must be a date like 2026-05-01.",
            errors=[FieldError(field=f"query.{field}", message="not a date")],
        ) from None  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise ProblemError(
            422, "Request is not valid", f"{field} must be one of: {', '.join(allowed)}.",
            errors=[FieldError(field=f"query.{field}", message="not one of the choices")],
        )  # fmt: skip
    return value


# ------------------------------------------------------------------------------------------------ sign-in


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The first page the person's role may open."""
    try:
        person = await _signins(request).current(request)
    except NotSignedIn:
        return RedirectResponse("/console/sign-in", status_code=303)
    return RedirectResponse(f"/console/{person.pages()[0]}", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str = "") -> HTMLResponse:
    """The sign-in form: paste an API key."""
    return render(request, "sign_in.html", next=next if next.startswith("/console/") else "", error=None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Checks the key, starts a session and sets its cookie."""
    _same_origin(request)
    form = await _form(request)
    target = form.get("next", "")
    result = await _signins(request).sign_in(form.get("api_key", "")[:300])
    if isinstance(result, str):
        return render(request, "sign_in.html", status_code=401, next=target, error=result)
    session_id, person = result
    destination = target if target.startswith("/console/") and "//" not in target else f"/console/{person.pages()[0]}"
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(_settings(request).session_hours * 3600),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_settings(request).secure_cookies,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Ends the session and clears its cookie."""
    _same_origin(request)
    await _signins(request).sign_out(request)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


# ------------------------------------------------------------------------------------------------ live alerts


async def _handled_by_console(request: Request, person: SignedIn, flag_ids: list[int]) -> dict[int, list[Any]]:
    async with request.app.state.sessions() as session, session.begin():
        rows = await repository.alert_actions_of(session, force=person.principal.force, flag_ids=flag_ids)
    by_flag: dict[int, list[Any]] = {}
    for row in rows:
        by_flag.setdefault(row.flag_id, []).append(row)
    return by_flag


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> HTMLResponse:
    """Open and acknowledged alerts, newest first; new ones arrive without a reload."""
    person = await _person(request, "alerts")
    calls = _calls(request)
    open_, acknowledged = await asyncio.gather(
        calls.get("auditor", "/v1/flags", key=person.key, params={"status": "open", "limit": UPSTREAM_PAGE}),
        calls.get("auditor", "/v1/flags", key=person.key, params={"status": "acknowledged", "limit": UPSTREAM_PAGE}),
    )
    flags = sorted([*open_["items"], *acknowledged["items"]], key=lambda f: f["flag_id"], reverse=True)[:200]
    return render(
        request,
        "alerts.html",
        flags=flags,
        may_handle=person.may(ALERT_HANDLERS),
        resolutions=RESOLUTIONS,
        more=bool(open_["next_after"] or acknowledged["next_after"]),
    )


@router.get("/alerts/stream")
async def alerts_stream(request: Request) -> EventSourceResponse:
    """The auditor's alert stream for the person's force, each alert sent as the table row to show."""
    person = await _person(request, "alerts")
    resume = request.headers.get("last-event-id")
    headers = {"Last-Event-ID": resume} if resume and resume.isdigit() else {}
    may_handle = person.may(ALERT_HANDLERS)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async with _calls(request).stream("auditor", "/v1/alerts/stream", key=person.key, headers=headers) as upstream:
            event_id: str | None = None
            data: list[str] = []
            async for line in upstream.aiter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif line == "":
                    if data:
                        flag = json.loads("\n".join(data))
                        row = templates.get_template("_alert_row.html").render(
                            flag=flag, may_handle=may_handle, resolutions=RESOLUTIONS, live=True
                        )
                        yield ServerSentEvent(id=event_id, event="alert", data=row)
                    elif event_id is not None:
                        yield ServerSentEvent(id=event_id)
                    event_id, data = None, []

    return EventSourceResponse(events(), ping=15, send_timeout=30)


async def _flag_action(request: Request, flag_id: int, action: str) -> HTMLResponse:
    _same_origin(request)
    person = await _person(request, "alerts")
    person.require(ALERT_HANDLERS, "Acknowledging or resolving an alert")
    form = await _form(request)
    note = form.get("note", "").strip()[:4000]
    resolution = form.get("resolution") if action == "resolved" else None
    if action == "acknowledged" and not note:
        note = "Acknowledged in the console."
    if action == "resolved":
        if resolution not in RESOLUTIONS:
            raise ProblemError(422, "Request is not valid", "Choose how the alert was resolved.")
        if not note:
            raise ProblemError(422, "Request is not valid", "Say why: a resolution needs a note.")
    path = "acknowledgement" if action == "acknowledged" else "resolution"
    body = {"note": note} | ({"resolution": resolution} if resolution else {})
    outcome, detail, flag = "done", None, None
    failure: ProblemError | None = None
    try:
        flag = await _calls(request).call("auditor", "POST", f"/v1/flags/{flag_id}/{path}", key=person.key, json=body)
    except ProblemError as exc:
        outcome, detail = "refused", f"{exc.problem.status} {exc.problem.title}: {exc.problem.detail}"
        failure = exc
    async with request.app.state.sessions() as session, session.begin():
        await repository.insert_alert_action(
            session,
            {
                "flag_id": flag_id,
                "force": person.principal.force,
                "action": action,
                "resolution": resolution,
                "note": note,
                "by_key_id": person.principal.key_id,
                "by_roles": sorted(r.value for r in person.principal.roles),
                "at": clock.now(),
                "outcome": outcome,
                "detail": detail,
            },
        )
    if failure is not None:
        raise failure
    return render(
        request, "_alert_row.html", flag=flag, may_handle=True, resolutions=RESOLUTIONS, live=False, just_done=action
    )


@router.post("/alerts/{flag_id}/acknowledgement", response_class=HTMLResponse)
async def acknowledge(request: Request, flag_id: int) -> HTMLResponse:
    """Acknowledges an alert (who and when are kept, in the auditor and in the console's history)."""
    return await _flag_action(request, flag_id, "acknowledged")


@router.post("/alerts/{flag_id}/resolution", response_class=HTMLResponse)
async def resolve(request: Request, flag_id: int) -> HTMLResponse:
    """Resolves an alert with a note saying why."""
    return await _flag_action(request, flag_id, "resolved")


# ------------------------------------------------------------------------------------------------ pending decisions


async def screening_reviews(request: Request, person: SignedIn) -> list[dict[str, Any]]:
    """Contacts awaiting a narrative-screening review (issue 18).

    PLACEHOLDER until the recorder serves its screening review queue: return its items here (each with
    `contact_id`, `recording_deadline`, `reason`) and the page lists them in their own section, sorted the same way.
    """
    return []


@router.get("/pending", response_class=HTMLResponse)
async def pending_page(request: Request) -> HTMLResponse:
    """Contacts awaiting a crime decision or a screening review, by hours left to the 24-hour deadline."""
    person = await _person(request, "pending")
    page, reviews = await asyncio.gather(
        _calls(request).get("recorder", "/v1/pending", key=person.key, params={"limit": UPSTREAM_PAGE}),
        screening_reviews(request, person),
    )
    now = clock.now()
    queue = presenters.pending_queue(page["items"], now)
    return render(
        request,
        "pending.html",
        queue=queue,
        reviews=presenters.pending_queue(reviews, now),
        overdue=sum(1 for r in queue if r["overdue"]),
        full=len(page["items"]) == UPSTREAM_PAGE,
        now=now,
    )


# ------------------------------------------------------------------------------------------------ flags


def _flag_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    officer = (q.get("officer") or "").strip()[:40] or None
    group = (q.get("offence_group") or "").strip()[:100] or None
    after = q.get("after")
    if after and not after.isdigit():
        raise ProblemError(422, "Request is not valid", "after must be a flag number.")
    return {
        "rule": _choice(q.get("rule"), RULES, "rule"),
        "status": _choice(q.get("status"), tuple(s.value for s in FlagStatus), "status"),
        "severity": _choice(q.get("severity"), SEVERITIES, "severity"),
        "from": start,
        "to": end,
        "offence_group": group,
        "officer": officer,
        "after": int(after) if after else None,
    }


def _auditor_params(filters: dict[str, Any], *, after: int | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    for name in ("rule", "status", "severity"):
        if filters[name]:
            params[name] = filters[name]
    if filters["from"]:
        params["raised_from"] = _midnight(filters["from"]).isoformat()
    if filters["to"]:
        params["raised_to"] = _midnight(filters["to"] + timedelta(days=1)).isoformat()
    if after is not None:
        params["after"] = after
    return params


async def _flag_pages(
    request: Request, person: SignedIn, filters: dict[str, Any], *, wanted: int, scan_limit: int
) -> tuple[list[dict[str, Any]], int | None, int]:
    """Flags passing every filter, from `after` on: (flags, where the next page starts, flags read)."""
    catalogue = _catalogue(request)
    local = bool(filters["offence_group"] or filters["officer"])
    after, found, scanned = filters["after"], [], 0
    while True:
        limit = UPSTREAM_PAGE if local else min(wanted - len(found), UPSTREAM_PAGE)
        page = await _calls(request).get(
            "auditor", "/v1/flags", key=person.key, params=_auditor_params(filters, after=after, limit=limit)
        )
        for flag in page["items"]:
            scanned += 1
            after = flag["flag_id"]
            if presenters.flag_matches(
                flag, offence_group=filters["offence_group"], officer=filters["officer"], catalogue=catalogue
            ):
                found.append(flag)
                if len(found) == wanted:
                    return found, after if (page["next_after"] or flag is not page["items"][-1]) else None, scanned
        if page["next_after"] is None:
            return found, None, scanned
        if scanned >= scan_limit:
            return found, after, scanned


@router.get("/flags", response_class=HTMLResponse)
async def flags_page(request: Request) -> HTMLResponse:
    """Every flag of the force, filtered and paged on the server."""
    person = await _person(request, "flags")
    filters = _flag_filters(request)
    settings = _settings(request)
    flags, next_after, scanned = await _flag_pages(
        request, person, filters, wanted=PAGE_SIZE, scan_limit=settings.flag_scan_limit
    )
    catalogue = _catalogue(request)
    query = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return render(
        request,
        "flags.html" if request.headers.get("hx-request") != "true" else "_flags_table.html",
        flags=[f | {"groups": presenters.offence_groups(f, catalogue)} for f in flags],
        filters=filters,
        rules=RULES,
        severities=SEVERITIES,
        statuses=[s.value for s in FlagStatus],
        groups=sorted({o.group for o in catalogue}),
        next_url=f"/console/flags?{urlencode(query | {'after': next_after})}" if next_after else None,
        first_url=f"/console/flags?{urlencode(query)}" if filters["after"] else None,
        csv_url=f"/console/flags.csv?{urlencode(query)}",
        scanned=scanned if (filters["offence_group"] or filters["officer"]) else None,
    )


@router.get("/flags.csv")
async def flags_csv(request: Request) -> StreamingResponse:
    """Every flag passing the filters, as CSV (read from the auditor a page at a time)."""
    person = await _person(request, "flags")
    filters = _flag_filters(request)
    catalogue = _catalogue(request)
    # The first page is read before answering, so a refusal is an error response rather than a broken download.
    first, next_after, _ = await _flag_pages(request, person, filters, wanted=UPSTREAM_PAGE, scan_limit=CSV_MAX_ROWS)

    async def rows() -> AsyncIterator[str]:
        yield presenters.csv_text([presenters.FLAG_CSV_COLUMNS])
        batch, after, sent = first, next_after, 0
        while True:
            yield presenters.csv_text(presenters.flag_csv_row(f, catalogue) for f in batch)
            sent += len(batch)
            if after is None or sent >= CSV_MAX_ROWS:
                return
            batch, after, _ = await _flag_pages(
                request, person, filters | {"after": after}, wanted=UPSTREAM_PAGE, scan_limit=CSV_MAX_ROWS
            )

    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="flags-{person.principal.force}-{stamp}.csv"'},
    )


async def _optional(coro: Any) -> Any:
    """A service's answer, or the problem it answered with (shown on the page instead of failing it)."""
    try:
        return await coro
    except ProblemError as exc:
        return exc.problem


@router.get("/flags/{flag_id}", response_class=HTMLResponse)
async def flag_page(request: Request, flag_id: int) -> HTMLResponse:
    """A flag with the contact, the decisions and the events that raised it."""
    person = await _person(request, "flags")
    calls = _calls(request)
    flag = await calls.get("auditor", f"/v1/flags/{flag_id}", key=person.key)
    cid = flag["contact_id"]
    audited, decision, contact, crimes = await asyncio.gather(
        _optional(calls.get("auditor", f"/v1/contacts/{cid}", key=person.key)),
        _optional(calls.get("recorder", f"/v1/contacts/{cid}/decision", key=person.key, missing_ok=True)),
        _optional(calls.get("intake", f"/v1/contacts/{cid}", key=person.key, missing_ok=True)),
        _optional(calls.get("recorder", "/v1/crimes", key=person.key, params={"contact_id": cid, "limit": 50})),
    )
    details: list[Any] = []
    if isinstance(crimes, dict):
        details = await asyncio.gather(
            *(
                _optional(calls.get("recorder", f"/v1/crimes/{c['crime_reference']}", key=person.key))
                for c in crimes["items"]
            )
        )
    timeline = _timeline(flag, audited, decision, contact, [d for d in details if isinstance(d, dict)])
    console_history = (await _handled_by_console(request, person, [flag_id])).get(flag_id, [])
    return render(
        request,
        "flag.html",
        flag=flag,
        audited=audited,
        decision=decision,
        contact=contact,
        crimes=details,
        timeline=timeline,
        console_history=console_history,
        groups=presenters.offence_groups(flag, _catalogue(request)),
        may_handle=person.may(ALERT_HANDLERS),
        resolutions=RESOLUTIONS,
        evidence_json=json.dumps(flag["evidence"], indent=2, ensure_ascii=False),
    )


def _timeline(
    flag: dict[str, Any], audited: Any, decision: Any, contact: Any, crimes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What happened to the contact, from its report to the flag's last step, oldest first."""
    events: list[dict[str, Any]] = []
    received = (contact or {}).get("received_at") if isinstance(contact, dict) else None
    received = received or (audited.get("received_at") if isinstance(audited, dict) else None)
    if received:
        events.append({"at": received, "what": "contact.received", "by": None, "detail": "Contact received"})
    if isinstance(decision, dict):
        events.append(
            {"at": decision["decided_at"], "what": f"contact.decided: {decision['outcome']}",
             "by": decision.get("decided_by") or "the rules", "detail": decision["rationale"]}
        )  # fmt: skip
    for crime in crimes:
        for step in crime.get("history", []):
            events.append(
                {"at": step["at"], "what": step["event_type"], "by": step.get("by"),
                 "detail": f"{crime['crime_reference']} ({crime['ho_class']})"}
            )  # fmt: skip
    for step in flag.get("history", []):
        events.append(
            {"at": step["at"], "what": f"flag {step['status']}", "by": step.get("by") or "the auditor",
             "detail": step.get("note") or ""}
        )  # fmt: skip
    return sorted(events, key=lambda e: e["at"])


# ------------------------------------------------------------------------------------------------ compliance


def _period(request: Request, default_days: int) -> tuple[datetime, datetime]:
    q = request.query_params
    end_day = _day(q.get("to"), "to") or clock.now().date()
    start_day = _day(q.get("from"), "from") or end_day - timedelta(days=default_days - 1)
    if end_day < start_day:
        raise ProblemError(422, "Request is not valid", "The period must end on or after the day it starts.")
    if (end_day - start_day).days > 366 * 2:
        raise ProblemError(422, "Request is not valid", "Choose a period of at most two years.")
    return _midnight(start_day), _midnight(end_day + timedelta(days=1))


@router.get("/compliance", response_class=HTMLResponse)
async def compliance_page(request: Request) -> HTMLResponse:
    """Recording rate over time and by offence group with 95% intervals against the grade lines; cancellations
    as the inspectorate reports them."""
    person = await _person(request, "compliance")
    start, end = _period(request, default_days=12 * 7)
    calls = _calls(request)
    periods = presenters.weeks(start, end)

    def stats(path: str, a: datetime, b: datetime) -> Any:
        return calls.get("auditor", path, key=person.key, params={"from": a.isoformat(), "to": b.isoformat()})

    whole, cancellations, *weekly = await asyncio.gather(
        stats("/v1/stats/recording", start, end),
        stats("/v1/stats/cancellations", start, end),
        *(stats("/v1/stats/recording", a, b) for a, b in periods),
    )
    settings = _settings(request)
    bands = {
        "outstanding": settings.grade_outstanding,
        "good": settings.grade_good,
        "requires improvement": settings.grade_requires_improvement,
    }
    overall = whole["recording_rate"]["overall"]
    chart = {
        "weeks": [a.strftime("%d %b") for a, _ in periods],
        "rate": [w["recording_rate"]["overall"]["rate"] for w in weekly],
        "low": [w["recording_rate"]["overall"]["ci_low"] for w in weekly],
        "high": [w["recording_rate"]["overall"]["ci_high"] for w in weekly],
        "groups": list(whole["recording_rate"]),
        "group_rate": [r["rate"] for r in whole["recording_rate"].values()],
        "group_interval": [[r["ci_low"], r["ci_high"]] for r in whole["recording_rate"].values()],
        "bands": bands,
        "cancel_categories": [c["audit_category"] for c in cancellations["categories"]],
        "cancel_correct": [c["correct"] for c in cancellations["categories"]],
        "cancel_wrong": [c["cancellations"] - c["correct"] for c in cancellations["categories"]],
    }
    return render(
        request,
        "compliance.html",
        whole=whole,
        weekly=list(zip(periods, weekly, strict=True)),
        cancellations=cancellations,
        grade=presenters.grade(overall["rate"], bands),
        bands=bands,
        chart_json=json.dumps(chart),
        start=start.date(),
        end=(end - timedelta(days=1)).date(),
        limit_hours=settings.recording_limit_hours,
    )


# ------------------------------------------------------------------------------------------------ sample audits


@router.get("/audits", response_class=HTMLResponse)
async def audits_page(request: Request) -> HTMLResponse:
    """The force's sample audits and the form to draw a new one."""
    person = await _person(request, "audits")
    async with request.app.state.sessions() as session, session.begin():
        audits = await repository.sample_audits_of(session, force=person.principal.force)
    today = clock.now().date()
    return render(
        request,
        "audits.html",
        audits=audits,
        may_draw=person.may(AUDIT_JUDGES),
        default_from=today - timedelta(days=182),
        default_to=today,
        error=None,
    )


def _int(form: dict[str, str], name: str, *, low: int, high: int, default: int | None = None) -> int:
    raw = form.get(name, "").strip()
    if not raw and default is not None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ProblemError(
            422, "Request is not valid", f"{name.replace('_', ' ')} must be a whole number from {low} to {high}.",
            errors=[FieldError(field=f"body.{name}", message=f"a whole number from {low} to {high}")],
        )  # fmt: skip
    return int(raw)


@router.post("/audits")
async def draw_audit(request: Request) -> Response:
    """Draws a reproducible random sample of the force's contacts for a period, through the auditor."""
    _same_origin(request)
    person = await _person(request, "audits")
    person.require(AUDIT_JUDGES, "Drawing a sample audit")
    form = await _form(request)
    start, end = _day(form.get("from"), "from"), _day(form.get("to"), "to")
    if start is None or end is None or end < start:
        raise ProblemError(422, "Request is not valid", "Give the period's first and last day, the last not earlier.")
    body: dict[str, Any] = {
        "period_from": _midnight(start).isoformat(),
        "period_to": _midnight(end + timedelta(days=1)).isoformat(),
        "size": _int(form, "size", low=1, high=5000),
        "stratify": form.get("stratify") == "on",
    }
    if form.get("seed", "").strip():
        body["seed"] = _int(form, "seed", low=0, high=2**62)
    audit = await _calls(request).call("auditor", "POST", "/v1/audits", key=person.key, json=body)
    async with request.app.state.sessions() as session, session.begin():
        await repository.insert_sample_audit(
            session,
            {
                "audit_id": UUID(audit["audit_id"]),
                "force": audit["force"],
                "created_by": audit["created_by"],
                "created_at": datetime.fromisoformat(audit["created_at"]),
                "period_from": datetime.fromisoformat(audit["period_from"]),
                "period_to": datetime.fromisoformat(audit["period_to"]),
                "size": len(audit["items"]),
                "population": audit["population"],
                "seed": audit["seed"],
            },
        )
    return RedirectResponse(f"/console/audits/{audit['audit_id']}", status_code=303)


@router.get("/audits/open")
async def open_audit(request: Request, audit_id: str = "") -> Response:
    """Opens an audit by its id (one drawn through the API, say)."""
    await _person(request, "audits")
    try:
        return RedirectResponse(f"/console/audits/{UUID(audit_id.strip())}", status_code=303)
    except ValueError:
        raise ProblemError(422, "Request is not valid", "An audit id looks like 3f2b…-…: 36 characters.") from None


def _next_item(items: list[dict[str, Any]], after: int = 0) -> int | None:
    unjudged = [i["item_no"] for i in items if i["crimes_required"] is None]
    later = [n for n in unjudged if n > after]
    return (later or unjudged or [None])[0]


@router.get("/audits/{audit_id}", response_class=HTMLResponse)
async def audit_page(request: Request, audit_id: UUID, item: int | None = None) -> HTMLResponse:
    """A sample audit: its result so far, and one sampled contact to judge."""
    person = await _person(request, "audits")
    calls = _calls(request)
    audit = await calls.get("auditor", f"/v1/audits/{audit_id}", key=person.key)
    items = audit["items"]
    current_no = item if item is not None else _next_item(items)
    current = next((i for i in items if i["item_no"] == current_no), None)
    if item is not None and current is None:
        raise ProblemError(404, "Not found", f"Audit {audit_id} has no item {item}.")
    contact = None
    if current is not None:
        contact = await _optional(calls.get("auditor", f"/v1/contacts/{current['contact_id']}", key=person.key))
    return render(
        request,
        "audit.html",
        audit=audit,
        current=current,
        contact=contact,
        may_judge=person.may(AUDIT_JUDGES),
        judged=sum(1 for i in items if i["crimes_required"] is not None),
    )


@router.post("/audits/{audit_id}/items/{item_no}")
async def judge_item(request: Request, audit_id: UUID, item_no: int) -> Response:
    """Marks one sampled contact correct or incorrect, with a reason, then moves to the next unjudged one."""
    _same_origin(request)
    person = await _person(request, "audits")
    person.require(AUDIT_JUDGES, "Judging a sample audit")
    form = await _form(request)
    verdict = form.get("verdict")
    if verdict not in ("correct", "incorrect"):
        raise ProblemError(422, "Request is not valid", "Mark the contact correct or incorrect.")
    required = _int(form, "crimes_required", low=0, high=200)
    reason = form.get("reason", "").strip()[:4000]
    if verdict == "correct":
        recorded = required
    else:
        recorded = _int(form, "crimes_correctly_recorded", low=0, high=200, default=0)
        if required == 0 or recorded >= required:
            raise ProblemError(
                422, "Request is not valid",
                "Incorrect means fewer crimes were correctly recorded than should have been: "
                "give how many should have been, and how many of those were.",
            )  # fmt: skip
        if not reason:
            raise ProblemError(422, "Request is not valid", "Give the reason the contact was recorded incorrectly.")
    note = f"{verdict}: {reason}" if reason else verdict
    audit = await _calls(request).call(
        "auditor", "PUT", f"/v1/audits/{audit_id}/items/{item_no}", key=person.key,
        json={"crimes_required": required, "crimes_correctly_recorded": recorded, "note": note},
    )  # fmt: skip
    following = _next_item(audit["items"], after=item_no)
    # Every contact judged: the audit's page shows its result.
    target = f"/console/audits/{audit_id}" + (f"?item={following}#judge" if following else "")
    return RedirectResponse(target, status_code=303)


@router.get("/audits/{audit_id}/export.csv")
async def audit_csv(request: Request, audit_id: UUID) -> Response:
    """A sample audit's items and judgements, and its result, as CSV."""
    person = await _person(request, "audits")
    audit = await _calls(request).get("auditor", f"/v1/audits/{audit_id}", key=person.key)
    rate = audit["result"]["recording_rate"]
    rows: list[list[Any]] = [
        ["audit_id", audit["audit_id"], "force", audit["force"], "seed", audit["seed"]],
        ["period_from", audit["period_from"], "period_to", audit["period_to"], "population", audit["population"]],
        ["recording_rate", rate["rate"], "ci_low", rate["ci_low"], "ci_high", rate["ci_high"]],
        [],
        ["item_no", "contact_id", "stratum", "crimes_required", "crimes_correctly_recorded", "judged_by",
         "judged_at", "note"],
    ]  # fmt: skip
    for i in audit["items"]:
        rows.append(
            [i["item_no"], i["contact_id"], i["stratum"], i["crimes_required"], i["crimes_correctly_recorded"],
             i["judged_by"], i["judged_at"], i["note"]]
        )  # fmt: skip
    return Response(
        presenters.csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{audit_id}.csv"'},
    )
