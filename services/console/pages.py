"""The console's front door and its supervisors' pages: sign-in, live alerts and their workflow, pending decisions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.events import Role
from services.console import presenters, repository
from services.console.signin import (
    ALERT_HANDLERS,
    COOKIE,
    NotSignedIn,
    SignedIn,
)
from services.console.web import (
    RESOLUTIONS,
    UPSTREAM_PAGE,
    console_settings,
    read_form,
    render,
    require_same_origin,
    service_calls,
    signed_in,
    signins_of,
    templates,
)
from services.runtime import clock
from services.runtime.problems import ProblemError

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The first page the person's role may open."""
    try:
        person = await signins_of(request).current(request)
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
    require_same_origin(request)
    form = await read_form(request)
    target = form.get("next", "")
    result = await signins_of(request).sign_in(form.get("api_key", "")[:300])
    if isinstance(result, str):
        return render(request, "sign_in.html", status_code=401, next=target, error=result)
    session_id, person = result
    destination = target if target.startswith("/console/") and "//" not in target else f"/console/{person.pages()[0]}"
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(console_settings(request).session_hours * 3600),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=console_settings(request).secure_cookies,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Ends the session and clears its cookie."""
    require_same_origin(request)
    await signins_of(request).sign_out(request)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


# ------------------------------------------------------------------------------------------------ live alerts


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> HTMLResponse:
    """Open and acknowledged alerts, newest first; new ones arrive without a reload."""
    person = await signed_in(request, "alerts")
    calls = service_calls(request)
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
    person = await signed_in(request, "alerts")
    resume = request.headers.get("last-event-id")
    headers = {"Last-Event-ID": resume} if resume and resume.isdigit() else {}
    may_handle = person.may(ALERT_HANDLERS)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async with service_calls(request).stream(
            "auditor", "/v1/alerts/stream", key=person.key, headers=headers
        ) as upstream:
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
    require_same_origin(request)
    person = await signed_in(request, "alerts")
    person.require(ALERT_HANDLERS, "Acknowledging or resolving an alert")
    form = await read_form(request)
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
        flag = await service_calls(request).call(
            "auditor", "POST", f"/v1/flags/{flag_id}/{path}", key=person.key, json=body
        )
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


REVIEW_READERS = frozenset({Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR})
"""Who the recorder shows its screening review queue to (the same roles as its route)."""


async def screening_reviews(request: Request, person: SignedIn) -> list[dict[str, Any]]:
    """Contacts whose narrative the screener found a crime in, awaiting a review by their deadline (issue 18): the
    recorder's review queue, nearest deadline first. Empty for a person the recorder would not show it to."""
    if not person.may(REVIEW_READERS):
        return []
    page = await service_calls(request).get(
        "recorder", "/v1/screening/reviews", key=person.key, params={"limit": UPSTREAM_PAGE}
    )
    return [
        {
            "contact_id": item["contact_id"],
            "recording_deadline": item["review_deadline"],
            "reason": "screened positive"
            + (f" ({', '.join(f.replace('_', ' ') for f in item['families'])})" if item["families"] else "")
            + (f": {'; '.join(item['evidence'][:3])}" if item["evidence"] else ""),
        }
        for item in page["items"]
    ]


@router.get("/pending", response_class=HTMLResponse)
async def pending_page(request: Request) -> HTMLResponse:
    """Contacts awaiting a crime decision or a screening review, by hours left to the 24-hour deadline."""
    person = await signed_in(request, "pending")
    page, reviews = await asyncio.gather(
        service_calls(request).get("recorder", "/v1/pending", key=person.key, params={"limit": UPSTREAM_PAGE}),
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
