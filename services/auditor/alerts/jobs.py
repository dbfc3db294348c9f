"""The alert feed and the webhook deliverer as background jobs of the auditor's runtime, and how routes reach the
feed."""

from __future__ import annotations

from typing import Annotated

from schemas.events import Role
from services.auditor.alerts.destinations import Destinations, Resolver, system_resolver
from services.auditor.alerts.feed import AlertFeed
from services.auditor.alerts.webhooks import DeliveryPolicy, WebhookDeliverer
from services.auditor.settings import AuditorSettings
from services.runtime.auth import Principal, require_roles
from services.runtime.problems import ProblemError
from services.runtime.service_runtime import Housekeeping, ServiceRuntime

READY_WAIT_SECONDS = 10.0
SUPERVISORS = require_roles(Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR)
Supervisor = Annotated[Principal, SUPERVISORS]  # who may follow a force's alerts


def destinations(settings: AuditorSettings, resolver: Resolver | None = None) -> Destinations:
    """Where webhooks may go, from the settings; names resolved by `resolver` (the system's by default)."""
    return Destinations(
        hosts=tuple(settings.webhook_allowed_hosts),
        networks=tuple(settings.webhook_allowed_networks),
        allow_http=settings.webhook_allow_http,
        resolver=resolver or system_resolver,
    )


def housekeeping(settings: AuditorSettings, allowed: Destinations) -> list[tuple[str, Housekeeping]]:
    """The alert feed and the webhook deliverer (sending only to `allowed`), as background jobs of the auditor's
    runtime."""
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
    return [
        ("alert-feed", (0.0, feed)),
        ("webhook-deliveries", (0.0, WebhookDeliverer(feed=feed, policy=policy, destinations=allowed))),
    ]


def alert_feed(runtime: ServiceRuntime) -> AlertFeed:
    """The process's alert feed (registered among the runtime's housekeeping jobs)."""
    for _name, (_interval, job) in runtime.housekeeping:
        if isinstance(job, AlertFeed):
            return job
    raise ProblemError(503, "Alerts unavailable", "This auditor runs no alert feed.")


async def settled_position(runtime: ServiceRuntime) -> int:
    """The alert-stream position below which no alert can still appear, waiting briefly for the first one."""
    horizon = await alert_feed(runtime).wait_ready(READY_WAIT_SECONDS)
    if horizon is None:
        raise ProblemError(503, "Alerts unavailable", "The alert stream cannot be read yet; try again shortly.")
    return horizon
