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
    # An officer's key id, or a team's, separated by commas.
    officers = [o.strip() for o in (q.get("officer") or "").split(",") if o.strip()][:50]
    if any(len(o) > 40 for o in officers):
        raise ProblemError(422, "Request is not valid", "An officer's key id has at most 40 characters.")
    group = (q.get("offence_group") or "").strip()[:100] or None
    after, position = q.get("after"), q.get("pos")
    if (after and not after.isdigit()) or (position and not position.isdigit()):
        raise ProblemError(422, "Request is not valid", "after must be a flag number and pos a count.")
    return {
        "rule": one_of(q.get("rule"), RULES, "rule"),
        "status": one_of(q.get("status"), tuple(s.value for s in FlagStatus), "status"),
        "severity": one_of(q.get("severity"), SEVERITIES, "severity"),
        "from": start,
        "to": end,
        "offence_group": group,
        "officer": ", ".join(officers) or None,
        "officers": officers,
        "after": int(after) if after else None,
        "pos": int(position) if position else 0,
    }


def _auditor_params(filters: dict[str, Any], *, after: int | None, limit: int, total: bool) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("limit", limit)]
    params += [(name, filters[name]) for name in ("rule", "status", "severity", "offence_group") if filters[name]]
    params += [("officer", officer) for officer in filters["officers"]]
    if filters["from"]:
        params.append(("raised_from", midnight(filters["from"]).isoformat()))
    if filters["to"]:
        params.append(("raised_to", midnight(filters["to"] + timedelta(days=1)).isoformat()))
    if after is not None:
        params.append(("after", after))
    if total:
        params.append(("with_total", "true"))
    return params


async def _flag_page(
    request: Request, person: SignedIn, filters: dict[str, Any], *, after: int | None, limit: int, total: bool = False
) -> dict[str, Any]:
    """One page of the flags passing every filter, from `after` on (the auditor filters and pages them)."""
    params = _auditor_params(filters, after=after, limit=limit, total=total)
    page: dict[str, Any] = await service_calls(request).get("auditor", "/v1/flags", key=person.key, params=params)
    return page


@router.get("/flags", response_class=HTMLResponse)
async def flags_page(request: Request) -> HTMLResponse:
    """Every flag of the force, filtered and paged on the server, with how many match."""
    person = await signed_in(request, "flags")
    filters = _flag_filters(request)
    page = await _flag_page(request, person, filters, after=filters["after"], limit=PAGE_SIZE, total=True)
    flags, next_after = page["items"], page["next_after"]
    catalogue = catalogue_of(request)
    query = {k: v for k, v in request.query_params.items() if k not in ("after", "pos") and v}
    following = filters["pos"] + len(flags)
    return render(
        request,
        "flags.html" if request.headers.get("hx-request") != "true" else "_flags_table.html",
        flags=[f | {"groups": presenters.offence_groups(f, catalogue)} for f in flags],
        filters=filters,
        rules=RULES,
        severities=SEVERITIES,
        statuses=[s.value for s in FlagStatus],
        groups=sorted({o.group for o in catalogue}),
        total=page.get("total"),
        shown=(filters["pos"] + 1, following),
        next_url=f"/console/flags?{urlencode(query | {'after': next_after, 'pos': following})}" if next_after else None,
        first_url=f"/console/flags?{urlencode(query)}" if filters["after"] else None,
        csv_url=f"/console/flags.csv?{urlencode(query)}",
    )


@router.get("/flags.csv")
async def flags_csv(request: Request) -> StreamingResponse:
    """Every flag passing the filters, as CSV (read from the auditor a page at a time)."""
    person = await signed_in(request, "flags")
    filters = _flag_filters(request)
    catalogue = catalogue_of(request)
    # The first page is read before answering, so a refusal is an error response rather than a broken download.
    first = await _flag_page(request, person, filters, after=filters["after"], limit=UPSTREAM_PAGE)

    async def rows() -> AsyncIterator[str]:
        yield presenters.csv_text([presenters.FLAG_CSV_COLUMNS])
        page, sent = first, 0
        while True:
            yield presenters.csv_text(presenters.flag_csv_row(f, catalogue) for f in page["items"])
            sent += len(page["items"])
            if page["next_after"] is None or sent >= CSV_MAX_ROWS:
                return
            page = await _flag_page(request, person, filters, after=page["next_after"], limit=UPSTREAM_PAGE)

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
