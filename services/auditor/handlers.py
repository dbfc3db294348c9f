"""The auditor's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

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

    async def on_event(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, EventPayload)
        await service.on_event(uow, envelope, payload, standard=standard)

    return [Subscription(name=SUBSCRIPTION, topics=[topics.CONTACTS, topics.RECORDS], handler=on_event)]


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
