"""The event-time watermark does not run ahead of an event still on its way to a partition that had caught up.

Two partitions. The first is read to t0, the second to t0 + 10 h; then an event of t0 + 5 h reaches the first. A
watermark that counted only partitions with unread events (the race this closes) was at t0 + 10 h as soon as the
first partition had nothing unread, so a sweep judged deadlines up to ten hours ahead of an event not read yet. A
caught-up partition holds the watermark at its own time until it has been idle for `idle_after_s`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from schemas.envelope import Envelope
from services.runtime.consumer import ConsumerRunner, Subscription
from services.runtime.database import create_session_factory
from services.runtime.messaging import UnitOfWork, encode_event, event_headers
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, decided_event, record_handled, running
from tests.support import eventually

T0 = datetime.fromisoformat("2026-03-01T09:00:00+00:00")


def _at(hours: float) -> Envelope:
    return decided_event().model_copy(update={"occurred_at": T0 + timedelta(hours=hours)})


async def _send(producer: AIOKafkaProducer, topic: str, event: Envelope, partition: int) -> None:
    await producer.send_and_wait(
        topic,
        encode_event(event),
        key=str(event.contact_id).encode(),
        headers=event_headers(event),
        partition=partition,
    )


def _runner(
    settings: EngineSettings, db: AsyncEngine, scratch: Scratch, producer: AIOKafkaProducer, seen: dict, idle: float
) -> ConsumerRunner:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        assert uow.watermark is not None
        seen[envelope.event_id] = uow.watermark(envelope.occurred_at)  # what a sweep in this handling would use
        await record_handled(uow, scratch, envelope)

    return ConsumerRunner(
        subscription=Subscription(name=f"rt-wm-{uuid.uuid4().hex[:8]}", topics=[topics.CONTACTS], handler=handle),
        settings=settings,
        sessions=create_session_factory(db),
        outbox=scratch.outbox,
        inbox=scratch.inbox,
        producer=producer,
        idle_after_s=idle,
    )


async def test_a_caught_up_partition_holds_the_watermark_until_it_has_been_idle(
    engines: EngineSettings, db: AsyncEngine, scratch: Scratch, producer: AIOKafkaProducer
) -> None:
    settings = engines.model_copy(update={"topic_prefix": f"wm{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=2)
    topic = settings.topic(topics.CONTACTS)
    seen: dict[uuid.UUID, datetime | None] = {}
    runner = _runner(settings, db, scratch, producer, seen, idle=60.0)  # idle for far longer than this test runs
    first, second, late = _at(0), _at(10), _at(5)
    async with running(runner):
        await _send(producer, topic, first, 0)
        await _send(producer, topic, second, 1)

        async def both_handled() -> bool:
            return first.event_id in seen and second.event_id in seen and not runner.unread

        await eventually(both_handled, within=60)
        # Nothing unread anywhere; the first partition caught up only just: it may yet get an earlier event.
        assert runner.watermark() == first.occurred_at
        await _send(producer, topic, late, 0)
        await eventually(lambda: _handled(seen, late), within=60)
    assert seen[second.event_id] is None or seen[second.event_id] <= first.occurred_at
    assert seen[late.event_id] == late.occurred_at  # the late event in hand, the other partition at ten hours


async def _handled(seen: dict[uuid.UUID, datetime | None], event: Envelope) -> bool:
    return event.event_id in seen


async def test_the_watermark_reaches_the_latest_event_once_every_partition_has_been_idle(
    engines: EngineSettings, db: AsyncEngine, scratch: Scratch, producer: AIOKafkaProducer
) -> None:
    settings = engines.model_copy(update={"topic_prefix": f"wm{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=2)
    topic = settings.topic(topics.CONTACTS)
    seen: dict[uuid.UUID, datetime | None] = {}
    runner = _runner(settings, db, scratch, producer, seen, idle=0.5)
    first, second = _at(0), _at(10)
    async with running(runner):
        await _send(producer, topic, first, 0)
        await _send(producer, topic, second, 1)

        async def at_the_latest() -> bool:
            return runner.watermark() == second.occurred_at  # the end of a replay: every deadline up to it judged

        await eventually(at_the_latest, within=60)
