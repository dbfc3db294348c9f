"""Webhook deliveries: each active subscription receives its force's matching alerts in stream order, signed with its
secret, at least once; a failed alert is retried with backoff before anything after it, and a subscription that
keeps failing is suspended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpcore
import httpx
from sqlalchemy import Row

from schemas.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from services.auditor.alerts import repository
from services.auditor.alerts.destinations import DestinationRefused, Destinations, delivery_pool, host_of
from services.auditor.alerts.feed import AlertFeed
from services.auditor.rules.flags import at_or_above
from services.runtime.access_log import Access
from services.runtime.auth import Principal
from services.runtime.service_runtime import ServiceRuntime

log = logging.getLogger(__name__)

SIGNATURE = SIGNATURE_HEADER
TIMESTAMP = TIMESTAMP_HEADER
EVENT = "X-Crimerec-Event"
DELIVERY = "X-Crimerec-Delivery"
SEQUENCE = "X-Crimerec-Sequence"
USER_AGENT = "crimerec-auditor-webhooks/1"


def delivery_id(subscription_id: UUID, seq: int) -> UUID:
    """The id of delivering one alert to one subscription: the same on every retry, so receivers can dedupe."""
    return uuid.uuid5(subscription_id, str(seq))


def encode_alert(body: dict[str, Any]) -> bytes:
    """An alert as the bytes that are signed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _target(callback_url: str) -> httpcore.URL:
    """A callback as the connection pool takes it."""
    url = httpx.URL(callback_url)
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)


def recipient_host(callback_url: str) -> str:
    """Who a delivery discloses to, as the access log names them: the callback's host."""
    return host_of(httpx.URL(callback_url))[:200]


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the auditor tries: timeout, backoff, when to give up and suspend, and how much at once."""

    timeout_seconds: float
    first_retry_seconds: float
    max_retry_seconds: float
    max_failures: int
    max_failing_seconds: float
    poll_seconds: float
    concurrency: int
    batch: int = 100

    @property
    def lease(self) -> timedelta:
        """How long a deliverer holds a subscription without renewing (renewed with every attempt)."""
        return timedelta(seconds=self.timeout_seconds * 4 + 30)

    def retry_delay(self, failures: int) -> float:
        """The wait before the next attempt after `failures` consecutive failures: doubling, up to a ceiling."""
        return min(self.first_retry_seconds * 2.0 ** max(failures - 1, 0), self.max_retry_seconds)

    def suspension(self, failures: int, failing_for: timedelta) -> str | None:
        """Why a subscription should now be suspended, or None while it should keep trying."""
        if failures >= self.max_failures:
            return f"{failures} consecutive deliveries failed"
        if failing_for.total_seconds() >= self.max_failing_seconds:
            return f"deliveries have failed for {int(failing_for.total_seconds())} s"
        return None


@dataclass(frozen=True)
class Attempt:
    """What one POST to a callback came to."""

    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    disclosed: bool  # the body may have reached the recipient


class WebhookDeliverer:
    """Delivers alerts to every active subscription, in order, a few subscriptions at a time per process."""

    def __init__(
        self,
        *,
        feed: AlertFeed,
        policy: DeliveryPolicy,
        destinations: Destinations,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.feed = feed
        self.policy = policy
        self.destinations = destinations
        self.network = network  # how connections are opened to checked addresses (the real network by default)
        self._wake = asyncio.Event()

    async def __call__(self, runtime: ServiceRuntime) -> None:
        """Runs until cancelled (a housekeeping job of the auditor's runtime)."""
        while True:
            try:
                await self._run(runtime)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one bug stop every delivery
                log.exception("webhook deliverer failed; restarting", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def _run(self, runtime: ServiceRuntime) -> None:
        running: set[asyncio.Task[None]] = set()
        client = delivery_pool(self.destinations, connections=self.policy.concurrency, inner=self.network)
        async with client:
            with self.feed.subscribe(self._wake):
                try:
                    while True:
                        self._wake.clear()
                        free = self.policy.concurrency - len(running)
                        horizon = self.feed.horizon
                        if free > 0 and horizon is not None:
                            for subscription in await self._claim(runtime, horizon, free):
                                task = asyncio.create_task(self._serve(runtime, client, subscription, horizon))
                                running.add(task)
                                task.add_done_callback(self._finished(running))
                        # Woken by new alerts and by finished deliveries; the poll finds retries that fell due.
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(self.policy.poll_seconds):
                                await self._wake.wait()
                finally:
                    for task in running:
                        task.cancel()
                    await asyncio.gather(*running, return_exceptions=True)

    def _finished(self, running: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            self._wake.set()  # a slot is free, and the subscription may have more to send
            if not task.cancelled() and task.exception() is not None:
                log.warning("webhook delivery failed", extra={"error": repr(task.exception())})

        return done

    async def _claim(self, runtime: ServiceRuntime, horizon: int, limit: int) -> list[tuple[Row[Any], UUID]]:
        token = uuid.uuid4()
        async with runtime.sessions() as session, session.begin():
            rows = await repository.claim_due_subscriptions(
                session, horizon=horizon, token=token, lease=self.policy.lease, limit=limit
            )
        return [(row, token) for row in rows]

    async def _serve(
        self,
        runtime: ServiceRuntime,
        client: httpcore.AsyncConnectionPool,
        claimed: tuple[Row[Any], UUID],
        horizon: int,
    ) -> None:
        """Delivers a subscription's next alerts up to the settled position, stopping at the first failure."""
        subscription, token = claimed
        sid = subscription.subscription_id
        release: dict[str, Any] = {}
        try:
            async with runtime.sessions() as session, session.begin():
                alerts = await repository.alerts_between(
                    session,
                    force=subscription.force,
                    after=subscription.delivered_seq,
                    upto=horizon,
                    rules=subscription.rules,
                    severities=at_or_above(subscription.min_severity),
                    limit=self.policy.batch,
                )
            current: Row[Any] | None = subscription
            for alert in alerts:
                assert current is not None
                attempt = await self._post(client, current, alert)
                current = await self._record(runtime, current, token, alert, attempt)
                if current is None or current.status != "active" or not attempt.succeeded:
                    # Lost the lease, deactivated meanwhile, or failed: a failed alert is retried before any after it.
                    return
            if len(alerts) < self.policy.batch:
                # Every matching alert up to the settled position is delivered: skip the rest of the stream there.
                release = {"delivered_seq": horizon}
        finally:
            async with runtime.sessions() as session, session.begin():
                await repository.release_lease(session, subscription_id=sid, token=token, **release)

    async def _post(self, client: httpcore.AsyncConnectionPool, subscription: Row[Any], alert: Row[Any]) -> Attempt:
        body = encode_alert(alert.body)
        sent_at = int(time.time())  # signed afresh on every attempt, so a retry is never outside the replay window
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE: sign(subscription.secret, sent_at, body),
            TIMESTAMP: str(sent_at),
            EVENT: str(alert.body.get("event", "")),
            DELIVERY: str(delivery_id(subscription.subscription_id, alert.seq)),
            SEQUENCE: str(alert.seq),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        disclosed = True
        timeout = self.policy.timeout_seconds
        try:
            refusal = self.destinations.url_refusal(subscription.callback_url)  # the allow-list as it is now
            if refusal is not None:
                raise DestinationRefused(refusal)
            async with asyncio.timeout(self.policy.timeout_seconds):
                # Stream, and never read the answer's body: a receiver cannot make us hold a large one. The pool
                # connects only to checked addresses and follows no redirect (a 3xx is a failed attempt).
                async with client.stream(
                    "POST", _target(subscription.callback_url), content=body, headers=list(headers.items()),
                    extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
                ) as answer:  # fmt: skip
                    status = answer.status
        except DestinationRefused as exc:
            error, disclosed = f"destination refused: {exc}", False
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            error, disclosed = f"could not connect: {exc!r}", False
        except (TimeoutError, httpcore.TimeoutException):
            error = f"no answer within {self.policy.timeout_seconds:g} s"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            error = repr(exc)
        duration = int((time.perf_counter() - started) * 1000)
        succeeded = status is not None and 200 <= status < 300
        if status is not None and not succeeded:
            error = f"answered {status}"
        return Attempt(succeeded, status, error[:500] if error else None, duration, disclosed)

    async def _record(
        self, runtime: ServiceRuntime, subscription: Row[Any], token: UUID, alert: Row[Any], attempt: Attempt
    ) -> Row[Any] | None:
        """Records an attempt, moves the subscription on (or schedules the retry, or suspends it), and logs the
        disclosure, in one transaction; None when another deliverer has taken the subscription over."""
        sid = subscription.subscription_id
        async with runtime.sessions() as session, session.begin():
            now = await repository.database_now(session)
            number = await repository.record_delivery(
                session,
                {
                    "subscription_id": sid,
                    "delivery_id": delivery_id(sid, alert.seq),
                    "seq": alert.seq,
                    "flag_id": alert.flag_id,
                    "event": str(alert.body.get("event", ""))[:40],
                    "at": now,
                    "succeeded": attempt.succeeded,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                },
            )
            if attempt.succeeded:
                outcome: dict[str, Any] = {
                    "delivered_seq": alert.seq,
                    "consecutive_failures": 0,
                    "failing_since": None,
                    "next_attempt_at": None,
                    "last_success_at": now,
                }
                suspend = None
            else:
                failures = subscription.consecutive_failures + 1
                failing_since: datetime = subscription.failing_since or now
                outcome = {
                    "consecutive_failures": failures,
                    "failing_since": failing_since,
                    "next_attempt_at": now + timedelta(seconds=self.policy.retry_delay(failures)),
                }
                suspend = self.policy.suspension(failures, now - failing_since)
            updated = await repository.update_leased(
                session, subscription_id=sid, token=token, lease=self.policy.lease, suspend=suspend, **outcome
            )
            if attempt.disclosed:
                # DPA 2018 s.62: sending a flag to another system is a disclosure, logged with its recipient.
                system = Principal(key_id="system:webhooks", roles=frozenset(), force=subscription.force)
                await runtime.access_log.record(
                    session,
                    system,
                    Access.DISCLOSURE,
                    subject_type="flag",
                    subject_ids=[str(alert.flag_id)],
                    recipient=recipient_host(subscription.callback_url),
                    detail=f"webhook {sid}, alert {alert.seq}, attempt {number}: "
                    + (f"answered {attempt.status_code}" if attempt.status_code else str(attempt.error)),
                )
        if suspend is not None:
            log.warning("webhook subscription suspended", extra={"subscription": str(sid), "reason": suspend})
        return updated
