"""Webhook subscriptions to a force's alerts: supervisors create, list, read, deactivate and resume them; the
deliveries themselves are `webhooks`."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from sqlalchemy import Row

from services.auditor.access import touches_saying
from services.auditor.alerts import repository
from services.auditor.alerts.destinations import DestinationRefused, Destinations
from services.auditor.alerts.jobs import Supervisor, settled_position
from services.auditor.alerts.schemas import (
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionDetail,
    SubscriptionPage,
    SubscriptionRead,
    SubscriptionStatus,
    delivery_read,
    subscription_values,
)
from services.auditor.alerts.webhooks import recipient_host
from services.auditor.rules.flags import rule_values
from services.auditor.settings import AuditorSettings
from services.runtime.auth import Principal
from services.runtime.http import runtime_of
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, ProblemError
from services.runtime.routes import Reading, reading, writing

router = APIRouter(prefix="/v1", tags=["subscriptions"], responses=PROBLEM_RESPONSES)

ONE = "/subscriptions/{subscription_id}"

RECENT_DELIVERIES = 20
RESOLVE_SECONDS = 5.0


async def _owned(route: Reading, subscription_id: UUID, *, lock: bool) -> Row[Any]:
    row = await repository.get_subscription(route.session, subscription_id, lock=lock)
    return route.own(row, f"No subscription {subscription_id}.")


async def _allowed_destination(destinations: Destinations, url: str) -> None:
    """Refuses a callback that is not on the allow-list or resolves to an address that is not allowed (422, on the
    field); deliveries check again on every connection."""
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            await destinations.check(url)
    except (DestinationRefused, TimeoutError) as exc:
        reason = str(exc) if isinstance(exc, DestinationRefused) else "its host did not resolve in time"
        raise ProblemError(
            422,
            "Webhook destination not allowed",
            f"callback_url: {reason}.",
            errors=[FieldError(field="body.callback_url", message=reason)],
        ) from exc


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe a webhook to your force's alerts",
    responses={409: {"description": "Your force holds as many subscriptions as it may."}},
)
async def create_subscription(request: Request, body: SubscriptionCreate, principal: Supervisor) -> SubscriptionCreated:
    """From now on, each of your force's alerts that matches is POSTed to the callback, signed, in order, at least
    once (dedupe on `X-Crimerec-Delivery`); failures are retried with backoff, and a callback that keeps failing is
    suspended until resumed."""
    runtime = runtime_of(request)
    settings: AuditorSettings = request.app.state.settings
    await _allowed_destination(request.app.state.destinations, body.callback_url)
    horizon = await settled_position(runtime)
    secret = secrets.token_urlsafe(32)
    detail = f"subscribed {recipient_host(body.callback_url)}"
    async with writing(request, principal) as route:
        session = route.session
        if await repository.count_live_subscriptions(session, force=principal.force) >= (
            settings.webhook_max_subscriptions
        ):
            raise ProblemError(
                409,
                "Too many subscriptions",
                f"{principal.force} holds {settings.webhook_max_subscriptions} active or suspended subscriptions; "
                "deactivate one first.",
            )
        now = await repository.database_now(session)
        row = await repository.insert_subscription(
            session,
            {
                "subscription_id": uuid.uuid4(),
                "force": principal.force,
                "callback_url": body.callback_url,
                "rules": rule_values(body.rules),
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
        await touches_saying(route, "subscription", row.subscription_id, detail=detail)
    return SubscriptionCreated.model_validate(subscription_values(row, None) | {"secret": secret})


@router.get("/subscriptions", response_model=SubscriptionPage, summary="List your force's webhooks")
async def list_subscriptions(
    request: Request,
    principal: Supervisor,
    status: SubscriptionStatus | None = None,
    after: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SubscriptionPage:
    """Your force's subscriptions, active, suspended or deactivated, each with its latest delivery."""
    async with reading(request, principal) as route:
        rows = await repository.subscriptions_of(
            route.session, force=principal.force, status=status, after=after, limit=limit
        )
        last = await repository.latest_deliveries(route.session, [r.subscription_id for r in rows])
        route.touches("subscription", *(r.subscription_id for r in rows))
    items = [SubscriptionRead.model_validate(subscription_values(r, last.get(r.subscription_id))) for r in rows]
    return SubscriptionPage(items=items, next_after=items[-1].subscription_id if len(items) == limit else None)


async def _detail(request: Request, subscription_id: UUID, principal: Principal) -> SubscriptionDetail:
    async with reading(request, principal) as route:
        row = await _owned(route, subscription_id, lock=False)
        recent = await repository.deliveries_of(route.session, subscription_id, limit=RECENT_DELIVERIES)
        route.touches("subscription", subscription_id)
    deliveries = [d for d in (delivery_read(r) for r in recent) if d is not None]
    return SubscriptionDetail.model_validate(
        subscription_values(row, recent[0] if recent else None) | {"recent_deliveries": deliveries}
    )


@router.get(ONE, response_model=SubscriptionDetail, summary="Read a webhook and its deliveries")
async def get_subscription(request: Request, subscription_id: UUID, principal: Supervisor) -> SubscriptionDetail:
    """A subscription's status, failures and latest delivery attempts."""
    return await _detail(request, subscription_id, principal)


async def _alter(
    request: Request,
    subscription_id: UUID,
    principal: Principal,
    change: Callable[[Row[Any], datetime], dict[str, Any] | None],
    detail: str,
) -> SubscriptionDetail:
    """A person's change to one of their force's subscriptions (None from `change`: nothing to do), logged as an
    alteration; the subscription as it then stands."""
    async with writing(request, principal) as route:
        row = await _owned(route, subscription_id, lock=True)
        values = change(row, await repository.database_now(route.session))
        if values is not None:
            await repository.update_subscription(route.session, subscription_id, **values)
            await touches_saying(route, "subscription", subscription_id, detail=detail)
    return await _detail(request, subscription_id, principal)


def _deactivation(row: Row[Any], now: datetime) -> dict[str, Any] | None:
    if row.status == "deactivated":
        return None
    return {"status": "deactivated", "deactivated_at": now, "next_attempt_at": None}


def _resumption(row: Row[Any], _now: datetime) -> dict[str, Any] | None:
    if row.status == "deactivated":
        raise ProblemError(
            409, "Subscription deactivated", "A deactivated subscription stays so; create a new one instead."
        )
    if row.status != "suspended":
        return None
    return {
        "status": "active", "consecutive_failures": 0, "failing_since": None, "next_attempt_at": None,
        "suspended_at": None, "suspended_reason": None,
    }  # fmt: skip


@router.delete(ONE, response_model=SubscriptionDetail, summary="Deactivate a webhook")
async def deactivate_subscription(request: Request, subscription_id: UUID, principal: Supervisor) -> SubscriptionDetail:
    """Stops deliveries for good; the subscription and its delivery record are kept."""
    return await _alter(request, subscription_id, principal, _deactivation, "deactivated")


@router.post(
    f"{ONE}/resume",
    response_model=SubscriptionDetail,
    summary="Resume a suspended webhook",
    responses={409: {"description": "The subscription was deactivated."}},
)
async def resume_subscription(request: Request, subscription_id: UUID, principal: Supervisor) -> SubscriptionDetail:
    """Delivers again, starting with the alert that failed: nothing matching since is skipped."""
    return await _alter(request, subscription_id, principal, _resumption, "resumed")
