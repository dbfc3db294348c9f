"""The auditor's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import EventPayload
from services.auditor import service
from services.auditor.service import Standard
from services.runtime import clock
from services.runtime.http import ServiceRuntime
from services.runtime.kafka import Subscription
from services.runtime.messaging import UnitOfWork

SUBSCRIPTION = "auditor.projection"


def subscriptions(*, standard: Standard) -> list[Subscription]:
    """The auditor reads contacts and records, and nothing else (it works behind any recorder that emits them)."""

    async def on_events(uow: UnitOfWork, events: Sequence[tuple[Envelope, BaseModel]]) -> None:
        payloads = [(envelope, payload) for envelope, payload in events if isinstance(payload, EventPayload)]
        assert len(payloads) == len(events)
        await service.on_events(uow, payloads, standard=standard)

    # A run of events at a time: a replay or a busy force is projected set-based, judged as if one at a time.
    return [Subscription(name=SUBSCRIPTION, topics=[topics.CONTACTS, topics.RECORDS], batch_handler=on_events)]


def judging_time(runtime: ServiceRuntime, *, event_time: bool) -> datetime | None:
    """The time the auditor judges deadlines by now: the wall clock when live and caught up; otherwise (replaying,
    simulating, or behind) the event time every partition has been read to, so nothing is called missing that is
    merely not read yet. None before anything is read."""
    now = clock.now()
    if event_time or not runtime.caught_up():
        runner = runtime.runners.get(SUBSCRIPTION)
        watermark = runner.watermark() if runner is not None else None
        if watermark is None:
            return None
        now = min(now, watermark) if not event_time else watermark
    return now
