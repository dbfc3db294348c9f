"""The console's auditor pages: compliance against the inspectorate's grades, and sample audits."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import presenters, repository
from services.console.signin import (
    AUDIT_JUDGES,
)
from services.console.web import (
    console_settings,
    midnight,
    or_none,
    parse_day,
    period_of,
    read_form,
    render,
    require_same_origin,
    service_calls,
    signed_in,
)
from services.runtime import clock
from services.runtime.problems import FieldError, ProblemError

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/compliance", response_class=HTMLResponse)
async def compliance_page(request: Request) -> HTMLResponse:
    """Recording rate over time and by offence group with 95% intervals against the grade lines; cancellations
    as the inspectorate reports them."""
    person = await signed_in(request, "compliance")
    start, end = period_of(request, default_days=12 * 7)
    calls = service_calls(request)

    def stats(path: str) -> Any:
        return calls.get("auditor", path, key=person.key, params={"from": start.isoformat(), "to": end.isoformat()})

    # The weeks in one call (the auditor sums them in one pass); the period's figures are the weeks' added up.
    cancellations, series = await asyncio.gather(stats("/v1/stats/cancellations"), stats("/v1/stats/recording/weekly"))
    weekly = series["weeks"]
    periods = [(datetime.fromisoformat(w["period_from"]), datetime.fromisoformat(w["period_to"])) for w in weekly]
    whole = presenters.whole_period(weekly)
    settings = console_settings(request)
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
    person = await signed_in(request, "audits")
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
    require_same_origin(request)
    person = await signed_in(request, "audits")
    person.require(AUDIT_JUDGES, "Drawing a sample audit")
    form = await read_form(request)
    start, end = parse_day(form.get("from"), "from"), parse_day(form.get("to"), "to")
    if start is None or end is None or end < start:
        raise ProblemError(422, "Request is not valid", "Give the period's first and last day, the last not earlier.")
    body: dict[str, Any] = {
        "period_from": midnight(start).isoformat(),
        "period_to": midnight(end + timedelta(days=1)).isoformat(),
        "size": _int(form, "size", low=1, high=5000),
        "stratify": form.get("stratify") == "on",
    }
    if form.get("seed", "").strip():
        body["seed"] = _int(form, "seed", low=0, high=2**62)
    audit = await service_calls(request).call("auditor", "POST", "/v1/audits", key=person.key, json=body)
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
    await signed_in(request, "audits")
    try:
        return RedirectResponse(f"/console/audits/{UUID(audit_id.strip())}", status_code=303)
    except ValueError:
        raise ProblemError(422, "Request is not valid", "An audit id looks like 3f2b…-…: 36 characters.") from None


def _next_item(items: list[dict[str, Any]], after: int = 0) -> int | None:
    unjudged: list[int] = [i["item_no"] for i in items if i["crimes_required"] is None]
    later = [n for n in unjudged if n > after]
    choices = later or unjudged
    return choices[0] if choices else None


@router.get("/audits/{audit_id}", response_class=HTMLResponse)
async def audit_page(request: Request, audit_id: UUID, item: int | None = None) -> HTMLResponse:
    """A sample audit: its result so far, and one sampled contact to judge."""
    person = await signed_in(request, "audits")
    calls = service_calls(request)
    audit = await calls.get("auditor", f"/v1/audits/{audit_id}", key=person.key)
    items = audit["items"]
    current_no = item if item is not None else _next_item(items)
    current = next((i for i in items if i["item_no"] == current_no), None)
    if item is not None and current is None:
        raise ProblemError(404, "Not found", f"Audit {audit_id} has no item {item}.")
    contact = None
    if current is not None:
        contact = await or_none(calls.get("auditor", f"/v1/contacts/{current['contact_id']}", key=person.key))
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
    require_same_origin(request)
    person = await signed_in(request, "audits")
    person.require(AUDIT_JUDGES, "Judging a sample audit")
    form = await read_form(request)
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
    audit = await service_calls(request).call(
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
    person = await signed_in(request, "audits")
    audit = await service_calls(request).get("auditor", f"/v1/audits/{audit_id}", key=person.key)
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
