"""The resumable server-sent event stream of a force's alerts, for supervisors' screens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.auditor.access import touches_saying
from services.auditor.alerts import repository
from services.auditor.alerts.jobs import Supervisor, alert_feed, settled_position
from services.auditor.rules.flags import Rule, Severity, at_or_above, rule_values
from services.auditor.settings import AuditorSettings
from services.runtime.auth import Principal
from services.runtime.http import runtime_of
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, ProblemError
from services.runtime.routes import reading

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

STREAM_BATCH = 500
MAX_POSITION = 2**63 - 1
SEND_TIMEOUT_SECONDS = 30.0  # a screen that stops reading is dropped rather than held open forever


def _resume_position(header: str | None, query: int | None) -> int | None:
    # The header wins: a browser's EventSource sends it on every reconnect, while the query string is the one the
    # page was opened with.
    if header is None or not header.strip():
        return query
    value = header.strip()
    if not value.isdigit() or int(value) > MAX_POSITION:
        raise ProblemError(
            422,
            "Request is not valid",
            "Last-Event-ID must be an alert stream position (a whole number), as sent in an event's `id`.",
            errors=[FieldError(field="header.last-event-id", message="must be a whole number")],
        )
    return int(value)


async def _alert_events(
    request: Request,
    principal: Principal,
    *,
    after: int,
    rules: Sequence[str] | None,
    severities: Sequence[str] | None,
) -> AsyncIterator[ServerSentEvent]:
    feed = alert_feed(runtime_of(request))
    # An id with no data moves the browser's Last-Event-ID without firing an event, so a screen that reconnects
    # before any alert came resumes from here instead of from whatever is new by then.
    yield ServerSentEvent(id=str(after))
    cursor = after
    with feed.subscribe() as news:
        while True:
            news.clear()
            horizon = feed.horizon or 0
            while cursor < horizon:
                async with reading(request, principal) as route:
                    rows = await repository.alerts_between(
                        route.session, force=principal.force, after=cursor, upto=horizon, rules=rules,
                        severities=severities, limit=STREAM_BATCH,
                    )  # fmt: skip
                    if rows:
                        sent = f"alert stream, positions {rows[0].seq} to {rows[-1].seq}"
                        await touches_saying(route, "flag", *dict.fromkeys(str(r.flag_id) for r in rows), detail=sent)
                for row in rows:
                    yield ServerSentEvent(
                        id=str(row.seq),
                        event=str(row.body.get("event", "flag.updated")),
                        data=json.dumps(row.body, separators=(",", ":"), ensure_ascii=False),
                    )
                # Fewer than a batch: nothing else up to the settled position matches.
                cursor = rows[-1].seq if len(rows) == STREAM_BATCH else horizon
            await news.wait()


@router.get(
    "/alerts/stream",
    response_class=EventSourceResponse,
    tags=["alerts"],
    summary="Follow your force's alerts (server-sent events)",
    responses={
        200: {
            "description": "A `text/event-stream`: per flag change, `id` (the stream position), `event` "
            "(`flag.raised` or `flag.updated`) and `data` (the flag as JSON); a keep-alive comment while quiet.",
            "content": {"text/event-stream": {}},
        },
        503: {"description": "The alert stream cannot be read yet."},
    },
)
async def alert_stream(
    request: Request,
    principal: Supervisor,
    rule: Annotated[list[Rule] | None, Query(description="Only these rules (repeat the parameter).")] = None,
    min_severity: Annotated[Severity | None, Query(description="Only this severity and above.")] = None,
    resume_after: Annotated[
        int | None,
        Query(alias="last_event_id", ge=0, le=MAX_POSITION, description="As the Last-Event-ID header."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(max_length=20, description="Resume after this position: every alert since is sent first."),
    ] = None,
) -> EventSourceResponse:
    """Your force's flag changes as they happen, filtered by rule and minimum severity; resumable with
    `Last-Event-ID`, so a screen that reconnects misses nothing. Without it the stream starts now; either way its
    first message carries only an `id`, the position it starts from."""
    runtime = runtime_of(request)
    settings: AuditorSettings = request.app.state.settings
    resume = _resume_position(last_event_id, resume_after)
    # Fixed before the response starts: an alert committed after this answer is sent is never missed.
    horizon = await settled_position(runtime)
    after = resume if resume is not None else horizon
    rules = rule_values(rule)
    severities = at_or_above(min_severity) if min_severity else None
    detail = (
        f"rules={','.join(rules) if rules else 'all'}; min_severity={min_severity.value if min_severity else 'low'}; "
        f"after={after}"
    )
    async with reading(request, principal) as route:
        # Opening the stream is itself a consultation; each batch sent is logged as it is read.
        await touches_saying(route, "alert_stream", principal.force, detail=detail)
    return EventSourceResponse(
        _alert_events(request, principal, after=after, rules=rules, severities=severities),
        ping=settings.alert_ping_seconds,
        send_timeout=SEND_TIMEOUT_SECONDS,
    )
