"""The auditor's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import EventPayload
from services.auditor import service
from services.auditor.judging import SUBSCRIPTION
from services.auditor.rules.standard import Standard
from services.runtime.consumer import Subscription
from services.runtime.messaging import UnitOfWork
from services.runtime.typed_events import parse_event_typed


def subscriptions(*, standard: Standard) -> list[Subscription]:
    """The auditor reads contacts and records, and nothing else (it works behind any recorder that emits them)."""

    async def on_events(uow: UnitOfWork, events: Sequence[tuple[Envelope, BaseModel]]) -> None:
        payloads = [(envelope, payload) for envelope, payload in events if isinstance(payload, EventPayload)]
        assert len(payloads) == len(events)
        await service.on_events(uow, payloads, standard=standard)

    # A run of events at a time: a replay or a busy force is projected set-based, judged as if one at a time.
    # Read in one pass, straight into typed payloads: the auditor never reads an envelope's payload as a dict.
    # On the live clock a poll's partitions (of both topics) are one run; on event time, where the watermark
    # follows each partition's own events, a partition at a time.
    return [
        Subscription(
            name=SUBSCRIPTION, topics=[topics.CONTACTS, topics.RECORDS], batch_handler=on_events,
            parse=parse_event_typed, merge_partitions=not standard.event_time,
        )
    ]  # fmt: skip
