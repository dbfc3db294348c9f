"""The outbox relay: publishes in commit order, keyed by contact, marks rows only once the broker has them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ProducerClosed
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schemas import topics
from schemas.envelope import Envelope
from services.runtime.database import create_session_factory
from services.runtime.messaging import encode_event, event_headers, notify_channel, unit_of_work
from services.runtime.producer import create_producer, ensure_topics
from services.runtime.relay import OutboxRelay, republish_outbox
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, decided_event, read_topic, topic_size
from tests.support import eventually


async def emit(db: AsyncEngine, scratch: Scratch, settings: EngineSettings, *events: Envelope) -> None:
    """One service transaction that emits `events` on the contacts topic."""
    async with unit_of_work(create_session_factory(db), scratch.outbox, settings.topic_prefix) as uow:
        for event in events:
            uow.emit(topics.CONTACTS, event)


async def unpublished(db: AsyncEngine, scratch: Scratch) -> int:
    """How many outbox rows still wait for the broker."""
    async with db.connect() as conn:
        return len(
            (await conn.execute(select(scratch.outbox.c.id).where(scratch.outbox.c.published_at.is_(None)))).all()
        )


def relay_for(db: AsyncEngine, scratch: Scratch, producer: AIOKafkaProducer, **options: object) -> OutboxRelay:
    """A relay on the scratch outbox, as a service builds one."""
    return OutboxRelay(engine=db, outbox=scratch.outbox, producer=producer, schema=scratch.schema, **options)  # type: ignore[arg-type]


@asynccontextmanager
async def relaying(*relays: OutboxRelay) -> AsyncIterator[None]:
    """Runs relays in the background for the block."""
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


async def listening(db: AsyncEngine, channel: str) -> bool:
    """True once a relay's listener has run LISTEN on the channel."""
    async with db.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"), {"listen": f'LISTEN "{channel}"'}
        )
    assert found, f"nobody listens on {channel} yet"
    return True


async def test_rows_are_published_in_commit_order_keyed_by_contact_with_the_event_headers(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    contact_a, contact_b = uuid.uuid4(), uuid.uuid4()
    events = [decided_event(contact_id=contact_a), decided_event(contact_id=contact_b)]
    await emit(db, scratch, broker, *events)
    events.append(decided_event(contact_id=contact_a))
    await emit(db, scratch, broker, events[-1])
    relay = relay_for(db, scratch, producer)

    assert await relay.publish_pending() == 3
    assert await relay.publish_pending() == 0  # nothing is published twice

    records = await read_topic(broker, broker.topic(topics.CONTACTS), count=3)
    assert [r.value for r in records] == [encode_event(e) for e in events]
    assert [r.key for r in records] == [str(e.contact_id).encode() for e in events]
    assert [dict(r.headers) for r in records] == [dict(event_headers(e)) for e in events]
    assert await topic_size(broker, broker.topic(topics.CONTACTS)) == 3
    assert await unpublished(db, scratch) == 0


async def test_rows_stay_unpublished_until_a_broker_acknowledges_them(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    events = [decided_event(), decided_event()]
    await emit(db, scratch, broker, *events)
    closed = create_producer(broker, client_id="runtime-tests-closed")
    await closed.start()
    await closed.stop()  # a producer that can no longer reach the broker

    with pytest.raises(ProducerClosed):
        await relay_for(db, scratch, closed).publish_pending()
    assert await unpublished(db, scratch) == 2
    assert await topic_size(broker, broker.topic(topics.CONTACTS)) == 0

    assert await relay_for(db, scratch, producer).publish_pending() == 2  # the broker is back: nothing was lost
    assert await unpublished(db, scratch) == 0
    records = await read_topic(broker, broker.topic(topics.CONTACTS), count=2)
    assert [r.value for r in records] == [encode_event(e) for e in events]


async def test_two_relays_on_one_outbox_publish_each_row_once_in_order(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    second_producer = create_producer(broker, client_id="runtime-tests-second-relay")
    await second_producer.start()
    relays = [
        relay_for(db, scratch, producer, batch_size=7, poll_seconds=0.05),
        relay_for(db, scratch, second_producer, batch_size=7, poll_seconds=0.05),
    ]
    written: list[Envelope] = []
    try:
        async with relaying(*relays):
            for n in range(40):  # a service committing while both relays run
                batch = [decided_event() for _ in range(1 + n % 3)]
                await emit(db, scratch, broker, *batch)
                written.extend(batch)

            async def all_published() -> bool:
                assert await unpublished(db, scratch) == 0
                return True

            await eventually(all_published, within=20)
    finally:
        await second_producer.stop()

    topic = broker.topic(topics.CONTACTS)
    assert await topic_size(broker, topic) == len(written)  # not one event twice
    records = await read_topic(broker, topic, count=len(written))
    assert [r.value for r in records] == [encode_event(e) for e in written]


async def test_a_notification_wakes_the_relay_long_before_its_poll_interval(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    relay = relay_for(db, scratch, producer, poll_seconds=30)
    async with relaying(relay):
        await eventually(lambda: listening(db, notify_channel(scratch.schema)), within=10)
        # The first row may be caught by the listener's catch-up on connecting; the second only by NOTIFY.
        for event in (decided_event(), decided_event()):
            await emit(db, scratch, broker, event)

            async def published() -> bool:
                assert await unpublished(db, scratch) == 0
                return True

            await eventually(published, within=5)
    assert await topic_size(broker, broker.topic(topics.CONTACTS)) == 2


class _SlowProducer(AIOKafkaProducer):  # type: ignore[misc]
    async def send_batch(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1)
        return await super().send_batch(*args, **kwargs)


async def test_a_row_committed_while_a_batch_is_being_published_is_not_left_for_the_next_poll(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings
) -> None:
    # A producer that holds each batch for 1 s before sending keeps the relay inside publish_pending for a while (a
    # linger would not: the relay closes its batches, so they leave at once).
    slow = _SlowProducer(bootstrap_servers=broker.kafka_bootstrap, acks="all")
    await slow.start()
    # Its own pool, as a service's relay has: the session's shared pool may be busy with what earlier tests left.
    own = create_async_engine(db.url, pool_size=2)
    try:
        relay = OutboxRelay(engine=own, outbox=scratch.outbox, producer=slow, schema=scratch.schema, poll_seconds=30)
        async with relaying(relay):
            await eventually(lambda: listening(db, notify_channel(scratch.schema)), within=10)
            await asyncio.sleep(0.5)  # let the relay settle into waiting for a notification
            await emit(db, scratch, broker, decided_event())

            async def claimed_by_the_relay() -> bool:
                # Watched from pg_stat_activity: a check that itself locked the row (FOR UPDATE) would make the
                # relay skip it, and the relay is woken only once.
                async with db.connect() as conn:
                    holding = await conn.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND state = 'idle in transaction' AND query LIKE :claim"
                        ),
                        {"claim": f"%FROM %{scratch.schema}%.%outbox%FOR UPDATE SKIP LOCKED%"},
                    )
                assert holding, "the relay has not picked the row up yet"
                return True

            # Well inside the 30 s poll: only a notification can have woken the relay this soon.
            await eventually(claimed_by_the_relay, within=15, interval=0.02)
            await emit(db, scratch, broker, decided_event())  # notifies while the first batch is in flight

            async def both_published() -> bool:
                assert await unpublished(db, scratch) == 0
                return True

            await eventually(both_published, within=15)
    finally:
        await slow.stop()
        await own.dispose()


async def test_purge_deletes_only_published_rows_older_than_the_retention(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings
) -> None:
    old_published, recent_published, old_unpublished = decided_event(), decided_event(), decided_event()
    await emit(db, scratch, broker, old_published, recent_published, old_unpublished)
    outbox = scratch.outbox
    ages = {
        old_published.event_id: (text("now() - interval '8 days'"), text("now() - interval '8 days'")),
        recent_published.event_id: (text("now() - interval '8 days'"), text("now() - interval '6 days'")),
        old_unpublished.event_id: (text("now() - interval '30 days'"), None),
    }
    async with db.begin() as conn:
        for event_id, (created, published) in ages.items():
            await conn.execute(
                update(outbox).where(outbox.c.event_id == event_id).values(created_at=created, published_at=published)
            )
    relay = OutboxRelay(
        engine=db,
        outbox=outbox,
        producer=None,
        schema=scratch.schema,
        retention=timedelta(days=7),  # type: ignore[arg-type]
    )

    assert await relay.purge_expired() == 1
    assert await relay.purge_expired() == 0
    async with db.connect() as conn:
        kept = set((await conn.execute(select(outbox.c.event_id))).scalars())
    assert kept == {recent_published.event_id, old_unpublished.event_id}


async def test_republishing_the_outbox_puts_every_retained_event_on_the_broker_again(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    events = [decided_event(), decided_event(), decided_event()]
    await emit(db, scratch, broker, *events)
    relay = relay_for(db, scratch, producer)
    assert await relay.publish_pending() == 3
    pending = decided_event()
    await emit(db, scratch, broker, pending)  # not yet published: republishing does not count it

    assert await republish_outbox(db, scratch.outbox) == 3  # what a broker that lost its log needs again
    assert await unpublished(db, scratch) == 4
    assert await relay.publish_pending() == 4

    records = await read_topic(broker, broker.topic(topics.CONTACTS), count=7)
    assert [r.value for r in records] == [encode_event(e) for e in [*events, *events, pending]]
    assert await unpublished(db, scratch) == 0


async def test_each_contacts_events_reach_the_partition_its_key_hashes_to_in_commit_order(
    db: AsyncEngine, scratch: Scratch, engines: EngineSettings
) -> None:
    # Six partitions, and batches small enough that the relay fills several per partition in one run.
    settings = engines.model_copy(update={"topic_prefix": f"rp{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=6)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_batch_size=2048)
    await producer.start()
    try:
        contacts = [uuid.uuid4() for _ in range(5)]
        events = [decided_event(contact_id=contacts[i % 5]) for i in range(40)]
        await emit(db, scratch, settings, *events[:25])
        await emit(db, scratch, settings, *events[25:])
        assert await relay_for(db, scratch, producer).publish_pending() == 40
        # Where the producer's own `send` puts each key, on another topic of six partitions.
        homes = {
            contact: (
                await producer.send_and_wait(settings.topic(topics.ALERTS), b"probe", key=str(contact).encode())
            ).partition
            for contact in contacts
        }
    finally:
        await producer.stop()

    topic = settings.topic(topics.CONTACTS)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: dict[int, list[bytes]] = {}
        async with asyncio.timeout(15):
            while sum(map(len, found.values())) < 40:
                for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                    found.setdefault(tp.partition, []).extend(r.value for r in records)
    finally:
        await consumer.stop()
    for contact in contacts:
        own = [encode_event(e) for e in events if e.contact_id == contact]
        assert [v for v in found.get(homes[contact], []) if v in own] == own
    assert sum(map(len, found.values())) == 40
