"""The console's flag pages: filtered and paged lists, CSV export, and a flag's detail with the events behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from schemas.events import FlagStatus
from services.console import presenters
from services.console.signin import (
    ALERT_HANDLERS,
    SignedIn,
)
from services.console.web import (
    CSV_MAX_ROWS,
    PAGE_SIZE,
    RESOLUTIONS,
    RULES,
    SEVERITIES,
    UPSTREAM_PAGE,
    catalogue_of,
    console_settings,
    handled_by_console,
    midnight,
    one_of,
    or_none,
    parse_day,
    render,
    service_calls,
    signed_in,
)
from services.runtime import clock
from services.runtime.problems import ProblemError

router = APIRouter(prefix="/console", include_in_schema=False)


def _flag_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    start, end = parse_day(q.get("from"), "from"), parse_day(q.get("to"), "to")
    officer = (q.get("officer") or "").strip()[:40] or None
    group = (q.get("offence_group") or "").strip()[:100] or None
    after = q.get("after")
    if after and not after.isdigit():
        raise ProblemError(422, "Request is not valid", "after must be a flag number.")
    return {
        "rule": one_of(q.get("rule"), RULES, "rule"),
        "status": one_of(q.get("status"), tuple(s.value for s in FlagStatus), "status"),
        "severity": one_of(q.get("severity"), SEVERITIES, "severity"),
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
        params["raised_from"] = midnight(filters["from"]).isoformat()
    if filters["to"]:
        params["raised_to"] = midnight(filters["to"] + timedelta(days=1)).isoformat()
    if after is not None:
        params["after"] = after
    return params


async def _flag_pages(
    request: Request, person: SignedIn, filters: dict[str, Any], *, wanted: int, scan_limit: int
) -> tuple[list[dict[str, Any]], int | None, int]:
    """Flags passing every filter, from `after` on: (flags, where the next page starts, flags read)."""
    catalogue = catalogue_of(request)
    local = bool(filters["offence_group"] or filters["officer"])
    after, scanned = filters["after"], 0
    found: list[dict[str, Any]] = []
    while True:
        limit = UPSTREAM_PAGE if local else min(wanted - len(found), UPSTREAM_PAGE)
        page = await service_calls(request).get(
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
    person = await signed_in(request, "flags")
    filters = _flag_filters(request)
    settings = console_settings(request)
    flags, next_after, scanned = await _flag_pages(
        request, person, filters, wanted=PAGE_SIZE, scan_limit=settings.flag_scan_limit
    )
    catalogue = catalogue_of(request)
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
    person = await signed_in(request, "flags")
    filters = _flag_filters(request)
    catalogue = catalogue_of(request)
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


@router.get("/flags/{flag_id}", response_class=HTMLResponse)
async def flag_page(request: Request, flag_id: int) -> HTMLResponse:
    """A flag with the contact, the decisions and the events that raised it."""
    person = await signed_in(request, "flags")
    calls = service_calls(request)
    flag = await calls.get("auditor", f"/v1/flags/{flag_id}", key=person.key)
    cid = flag["contact_id"]
    audited, decision, contact, crimes = await asyncio.gather(
        or_none(calls.get("auditor", f"/v1/contacts/{cid}", key=person.key)),
        or_none(calls.get("recorder", f"/v1/contacts/{cid}/decision", key=person.key, missing_ok=True)),
        or_none(calls.get("intake", f"/v1/contacts/{cid}", key=person.key, missing_ok=True)),
        or_none(calls.get("recorder", "/v1/crimes", key=person.key, params={"contact_id": cid, "limit": 50})),
    )
    details: list[Any] = []
    if isinstance(crimes, dict):
        details = await asyncio.gather(
            *(
                or_none(calls.get("recorder", f"/v1/crimes/{c['crime_reference']}", key=person.key))
                for c in crimes["items"]
            )
        )
    timeline = _timeline(flag, audited, decision, contact, [d for d in details if isinstance(d, dict)])
    console_history = (await handled_by_console(request, person, [flag_id])).get(flag_id, [])
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
        groups=presenters.offence_groups(flag, catalogue_of(request)),
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
