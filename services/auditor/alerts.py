"""Alerts for supervisors: a resumable server-sent event stream of the force's flags, and signed webhook
subscriptions, each scoped to the caller's force."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import httpx
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.events import Role
from services.auditor import alerts_repository
from services.auditor.alert_feed import AlertFeed
from services.auditor.rules.detectors import SEVERITY_ORDER, Rule, Severity
from services.auditor.settings import AuditorSettings
from services.auditor.webhooks import DeliveryPolicy, WebhookDeliverer, recipient_host
from services.runtime.access_log import Access
from services.runtime.auth import Principal, require_force, require_roles
from services.runtime.http import Housekeeping, ServiceRuntime, runtime_of
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, ProblemError

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

SUPERVISORS = require_roles(Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR)
STREAM_BATCH = 500
MAX_POSITION = 2**63 - 1
READY_WAIT_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 30.0  # a screen that stops reading is dropped rather than held open forever
RECENT_DELIVERIES = 20


def housekeeping(settings: AuditorSettings) -> list[tuple[str, Housekeeping]]:
    """The alert feed and the webhook deliverer, as background jobs of the auditor's runtime."""
    feed = AlertFeed(poll_seconds=settings.alert_poll_seconds, settle_seconds=settings.alert_settle_seconds)
    policy = DeliveryPolicy(
        timeout_seconds=settings.webhook_timeout_seconds,
        first_retry_seconds=settings.webhook_first_retry_seconds,
        max_retry_seconds=settings.webhook_max_retry_seconds,
        max_failures=settings.webhook_max_failures,
        max_failing_seconds=settings.webhook_max_failing_seconds,
        poll_seconds=settings.webhook_poll_seconds,
        concurrency=settings.webhook_concurrency,
    )
    # Both run until the service stops; the interval is only how soon one would be restarted.
    return [("alert-feed", (0.0, feed)), ("webhook-deliveries", (0.0, WebhookDeliverer(feed=feed, policy=policy)))]


def _settings(request: Request) -> AuditorSettings:
    settings: AuditorSettings = request.app.state.settings
    return settings


def alert_feed(runtime: ServiceRuntime) -> AlertFeed:
    """The process's alert feed (registered among the runtime's housekeeping jobs)."""
    for _name, (_interval, job) in runtime.housekeeping:
        if isinstance(job, AlertFeed):
            return job
    raise ProblemError(503, "Alerts unavailable", "This auditor runs no alert feed.")


async def _horizon(runtime: ServiceRuntime) -> int:
    horizon = await alert_feed(runtime).wait_ready(READY_WAIT_SECONDS)
    if horizon is None:
        raise ProblemError(503, "Alerts unavailable", "The alert stream cannot be read yet; try again shortly.")
    return horizon


def _severities(minimum: Severity | None) -> list[str] | None:
    return [s.value for s in SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :]] if minimum else None


# ------------------------------------------------------------------------------------------------ SSE


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
    runtime: ServiceRuntime,
    principal: Principal,
    *,
    after: int,
    rules: Sequence[str] | None,
    severities: Sequence[str] | None,
) -> AsyncIterator[ServerSentEvent]:
    feed = alert_feed(runtime)
    # An id with no data moves the browser's Last-Event-ID without firing an event, so a screen that reconnects
    # before any alert came resumes from here instead of from whatever is new by then.
    yield ServerSentEvent(id=str(after))
    cursor = after
    with feed.subscribe() as news:
        while True:
            news.clear()
            horizon = feed.horizon or 0
            while cursor < horizon:
                async with runtime.sessions() as session, session.begin():
                    rows = await alerts_repository.alerts_between(
                        session, force=principal.force, after=cursor, upto=horizon, rules=rules,
                        severities=severities, limit=STREAM_BATCH,
                    )  # fmt: skip
                    if rows:
                        await runtime.access_log.record(
                            session, principal, Access.CONSULTATION, subject_type="flag",
                            subject_ids=list(dict.fromkeys(str(r.flag_id) for r in rows)),
                            detail=f"alert stream, positions {rows[0].seq} to {rows[-1].seq}",
                        )  # fmt: skip
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
    principal: Annotated[Principal, SUPERVISORS],
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
    resume = _resume_position(last_event_id, resume_after)
    # Fixed before the response starts: an alert committed after this answer is sent is never missed.
    horizon = await _horizon(runtime)
    after = resume if resume is not None else horizon
    rules = sorted({r.value for r in rule}) if rule else None
    severities = _severities(min_severity)
    async with runtime.sessions() as session, session.begin():
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="alert_stream", subject_ids=[principal.force],
            detail=f"rules={','.join(rules) if rules else 'all'}; min_severity="
            f"{min_severity.value if min_severity else 'low'}; after={after}",
        )  # fmt: skip
    return EventSourceResponse(
        _alert_events(runtime, principal, after=after, rules=rules, severities=severities),
        ping=_settings(request).alert_ping_seconds,
        send_timeout=SEND_TIMEOUT_SECONDS,
    )


# ------------------------------------------------------------------------------------------------ webhooks


class SubscriptionCreate(BaseModel):
    """A webhook for your force's alerts: where to POST them, and which."""

    model_config = ConfigDict(extra="forbid")

    callback_url: str = Field(
        min_length=1, max_length=2000, description="An http or https URL; each alert is POSTed to it as JSON."
    )
    rules: list[Rule] | None = Field(
        default=None, min_length=1, max_length=len(Rule), description="Only these rules; omit for every rule."
    )
    min_severity: Severity = Field(default=Severity.LOW, description="Only this severity and above.")
    description: str = Field(min_length=1, max_length=500, description="What it is for, e.g. the duty inspector.")

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError("must be a URL") from exc
        if url.scheme not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        if not url.host:
            raise ValueError("must name a host")
        if url.userinfo:
            raise ValueError("must not carry credentials (sign-in goes by the signature header)")
        return value


class DeliveryRead(BaseModel):
    """One attempt to deliver an alert to a subscription."""

    delivery_id: UUID = Field(description="The same for every attempt at one alert (X-Crimerec-Delivery).")
    position: int = Field(description="The alert's stream position.")
    flag_id: int
    event: str
    attempt: int
    at: datetime
    succeeded: bool
    status_code: int | None
    error: str | None


class SubscriptionRead(BaseModel):
    """A webhook subscription and how its deliveries are going."""

    subscription_id: UUID
    force: str
    callback_url: str
    rules: list[Rule] | None
    min_severity: Severity
    description: str
    status: Literal["active", "suspended", "deactivated"]
    created_by: str
    created_at: datetime
    delivered_up_to: int = Field(description="Every matching alert up to this stream position has been delivered.")
    consecutive_failures: int
    failing_since: datetime | None
    next_attempt_at: datetime | None = Field(description="When a failed alert is retried.")
    last_success_at: datetime | None
    suspended_at: datetime | None
    suspended_reason: str | None
    deactivated_at: datetime | None
    last_delivery: DeliveryRead | None


class SubscriptionCreated(SubscriptionRead):
    """A new subscription, with the secret its deliveries are signed with."""

    secret: str = Field(
        description="Shown only now. Each delivery carries `X-Crimerec-Signature: sha256=<hex HMAC-SHA256 of the "
        "raw body with this secret>`."
    )


class SubscriptionDetail(SubscriptionRead):
    """A subscription with its latest delivery attempts."""

    recent_deliveries: list[DeliveryRead] = Field(description="Newest first.")


class SubscriptionPage(BaseModel):
    """A page of your force's subscriptions, oldest first; pass `next_after` as `after` for the next page."""

    items: list[SubscriptionRead]
    next_after: UUID | None


def _delivery(row: Row[Any] | None) -> DeliveryRead | None:
    if row is None:
        return None
    return DeliveryRead(
        delivery_id=row.delivery_id, position=row.seq, flag_id=row.flag_id, event=row.event, attempt=row.attempt,
        at=row.at, succeeded=row.succeeded, status_code=row.status_code, error=row.error,
    )  # fmt: skip


def _subscription(row: Row[Any], last: Row[Any] | None) -> dict[str, Any]:
    values = {k: v for k, v in row._mapping.items() if k in SubscriptionRead.model_fields}
    return values | {"delivered_up_to": row.delivered_seq, "last_delivery": _delivery(last)}


async def _owned(session: AsyncSession, subscription_id: UUID, principal: Principal) -> Row[Any]:
    row = await alerts_repository.get_subscription(session, subscription_id, lock=True)
    if row is None:
        raise ProblemError(404, "Not found", f"No subscription {subscription_id}.")
    require_force(principal, row.force, f"No subscription {subscription_id}.")
    return row


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    tags=["subscriptions"],
    summary="Subscribe a webhook to your force's alerts",
    responses={409: {"description": "Your force holds as many subscriptions as it may."}},
)
async def create_subscription(
    request: Request, body: SubscriptionCreate, principal: Annotated[Principal, SUPERVISORS]
) -> SubscriptionCreated:
    """From now on, each of your force's alerts that matches is POSTed to the callback, signed, in order, at least
    once (dedupe on `X-Crimerec-Delivery`); failures are retried with backoff, and a callback that keeps failing is
    suspended until resumed."""
    runtime = runtime_of(request)
    settings = _settings(request)
    horizon = await _horizon(runtime)
    secret = secrets.token_urlsafe(32)
    async with runtime.sessions() as session, session.begin():
        if await alerts_repository.count_live_subscriptions(session, force=principal.force) >= (
            settings.webhook_max_subscriptions
        ):
            raise ProblemError(
                409,
                "Too many subscriptions",
                f"{principal.force} holds {settings.webhook_max_subscriptions} active or suspended subscriptions; "
                "deactivate one first.",
            )
        now = await alerts_repository.database_now(session)
        row = await alerts_repository.insert_subscription(
            session,
            {
                "subscription_id": uuid.uuid4(),
                "force": principal.force,
                "callback_url": body.callback_url,
                "rules": sorted({r.value for r in body.rules}) if body.rules else None,
                "min_severity": body.min_severity.value,
                "description": body.description,
                "secret": secret,
                "status": "active",
                "created_by": principal.key_id,
                "created_at": now,
                "updated_at": now,
                # Alerts from now on: those already settled are history, not news.
                "delivered_seq": horizon,
            },
        )
        await runtime.access_log.record(
            session, principal, Access.ALTERATION, subject_type="subscription", subject_ids=[str(row.subscription_id)],
            detail=f"subscribed {recipient_host(body.callback_url)}",
        )  # fmt: skip
    return SubscriptionCreated.model_validate(_subscription(row, None) | {"secret": secret})


@router.get(
    "/subscriptions", response_model=SubscriptionPage, tags=["subscriptions"], summary="List your force's webhooks"
)
async def list_subscriptions(
    request: Request,
    principal: Annotated[Principal, SUPERVISORS],
    status: Literal["active", "suspended", "deactivated"] | None = None,
    after: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SubscriptionPage:
    """Your force's subscriptions, active, suspended or deactivated, each with its latest delivery."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        rows = await alerts_repository.subscriptions_of(
            session, force=principal.force, status=status, after=after, limit=limit
        )
        last = await alerts_repository.latest_deliveries(session, [r.subscription_id for r in rows])
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="subscription",
            subject_ids=[str(r.subscription_id) for r in rows],
        )  # fmt: skip
    items = [SubscriptionRead.model_validate(_subscription(r, last.get(r.subscription_id))) for r in rows]
    return SubscriptionPage(items=items, next_after=items[-1].subscription_id if len(items) == limit else None)


async def _detail(runtime: ServiceRuntime, subscription_id: UUID, principal: Principal) -> SubscriptionDetail:
    async with runtime.sessions() as session, session.begin():
        row = await alerts_repository.get_subscription(session, subscription_id)
        if row is None:
            raise ProblemError(404, "Not found", f"No subscription {subscription_id}.")
        require_force(principal, row.force, f"No subscription {subscription_id}.")
        recent = await alerts_repository.deliveries_of(session, subscription_id, limit=RECENT_DELIVERIES)
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="subscription", subject_ids=[str(subscription_id)]
        )
    deliveries = [d for d in (_delivery(r) for r in recent) if d is not None]
    return SubscriptionDetail.model_validate(
        _subscription(row, recent[0] if recent else None) | {"recent_deliveries": deliveries}
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionDetail,
    tags=["subscriptions"],
    summary="Read a webhook and its deliveries",
)
async def get_subscription(
    request: Request, subscription_id: UUID, principal: Annotated[Principal, SUPERVISORS]
) -> SubscriptionDetail:
    """A subscription's status, failures and latest delivery attempts."""
    return await _detail(runtime_of(request), subscription_id, principal)


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionDetail,
    tags=["subscriptions"],
    summary="Deactivate a webhook",
)
async def deactivate_subscription(
    request: Request, subscription_id: UUID, principal: Annotated[Principal, SUPERVISORS]
) -> SubscriptionDetail:
    """Stops deliveries for good; the subscription and its delivery record are kept."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        row = await _owned(session, subscription_id, principal)
        if row.status != "deactivated":
            now = await alerts_repository.database_now(session)
            await alerts_repository.update_subscription(
                session, subscription_id, status="deactivated", deactivated_at=now, next_attempt_at=None
            )
            await runtime.access_log.record(
                session, principal, Access.ALTERATION, subject_type="subscription", subject_ids=[str(subscription_id)],
                detail="deactivated",
            )  # fmt: skip
    return await _detail(runtime, subscription_id, principal)


@router.post(
    "/subscriptions/{subscription_id}/resume",
    response_model=SubscriptionDetail,
    tags=["subscriptions"],
    summary="Resume a suspended webhook",
    responses={409: {"description": "The subscription was deactivated."}},
)
async def resume_subscription(
    request: Request, subscription_id: UUID, principal: Annotated[Principal, SUPERVISORS]
) -> SubscriptionDetail:
    """Delivers again, starting with the alert that failed: nothing matching since is skipped."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        row = await _owned(session, subscription_id, principal)
        if row.status == "deactivated":
            raise ProblemError(
                409, "Subscription deactivated", "A deactivated subscription stays so; create a new one instead."
            )
        if row.status == "suspended":
            await alerts_repository.update_subscription(
                session, subscription_id, status="active", consecutive_failures=0, failing_since=None,
                next_attempt_at=None, suspended_at=None, suspended_reason=None,
            )  # fmt: skip
            await runtime.access_log.record(
                session, principal, Access.ALTERATION, subject_type="subscription", subject_ids=[str(subscription_id)],
                detail="resumed",
            )  # fmt: skip
    return await _detail(runtime, subscription_id, principal)
