"""A polled batch that takes longer than the max poll interval: handled in runs, no rebalance storm, no work twice.

A consumer that does not poll again within `max_poll_interval_ms` is put out of its group: its partitions go to
another member, which starts from the last committed offset and reads again what the first was still handling; the
first rejoins, and the group rebalances again. Here a handler takes over 5 ms an event, a batch holds 1,000 events
(over five seconds of work) and the poll interval is three seconds, with two members in the group.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from schemas.envelope import Envelope
from services.runtime.consumer import ConsumerRunner, Subscription
from services.runtime.database import create_session_factory
from services.runtime.messaging import UnitOfWork, encode_event, event_headers
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, committed_offset, decided_event, handled_ids, record_handled, running
from tests.support import eventually

EVENTS = 1000


def _metric(name: str, consumer: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0.0


async def test_a_batch_longer_than_the_poll_interval_is_handled_once_without_a_rebalance_storm(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    settings = broker.model_copy(
        update={
            "kafka_max_poll_interval_ms": 3_000,
            "kafka_session_timeout_ms": 6_000,
            "kafka_heartbeat_interval_ms": 500,
        }
    )
    calls: Counter[uuid.UUID] = Counter()

    async def slow(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        calls[envelope.event_id] += 1
        await asyncio.sleep(0.005)
        await record_handled(uow, scratch, envelope)

    name = f"rt-slow-{uuid.uuid4().hex[:8]}"

    def member() -> ConsumerRunner:
        return ConsumerRunner(
            subscription=Subscription(name=name, topics=[topics.CONTACTS], handler=slow),
            settings=settings,
            sessions=create_session_factory(db),
            outbox=scratch.outbox,
            inbox=scratch.inbox,
            producer=producer,
            batch_size=EVENTS,
        )

    first, second = member(), member()
    topic = settings.topic(topics.CONTACTS)
    async with running(first), running(second):
        # Both in the group, the one partition with one of them, before any event arrives.
        async def settled() -> bool:
            joined = first.assignments.count >= 1 and second.assignments.count >= 1
            return joined and len(first.consumer.assignment() | second.consumer.assignment()) == 1

        await eventually(settled, within=30)
        rebalances_before = first.assignments.count + second.assignments.count
        events = [decided_event() for _ in range(EVENTS)]
        sent = [
            await producer.send(
                topic, encode_event(e), key=str(e.contact_id).encode(), headers=event_headers(e), partition=0
            )
            for e in events
        ]
        await asyncio.gather(*sent)

        async def all_committed() -> bool:
            return await committed_offset(settings, settings.topic_prefix + name, topic) == EVENTS

        await eventually(all_committed, within=60)
        rebalances = first.assignments.count + second.assignments.count - rebalances_before

    handled = await handled_ids(db, scratch)
    assert sorted(handled) == sorted(e.event_id for e in events)  # every event's effect, once
    assert set(calls.values()) == {1}, "an event was handled more than once"  # no work done twice
    duplicates = _metric("crimerec_events_duplicate_total", name)  # read again and skipped by the inbox
    assert duplicates == 0, f"{duplicates} events read again, {rebalances} rebalances"
    assert rebalances == 0, f"{rebalances} rebalances while the batch was handled"
