"""End offsets and lag measured by a fetch's high watermark: right whatever the broker says to ListOffsets."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from services.runtime.offsets import end_offsets, group_lag
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import partition


async def _produce_in_batches(producer: AIOKafkaProducer, topic: str, batches: int, size: int) -> None:
    """Records sent `size` at a time without waiting, so each run leaves as one batch of several records."""
    for _ in range(batches):
        sent = [await producer.send(topic, b"x", key=b"k", partition=0) for _ in range(size)]
        await asyncio.gather(*sent)


async def test_the_end_of_a_partition_whose_batches_hold_several_records_is_after_its_last_record(
    broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    topic = broker.topic(topics.CONTACTS)
    await _produce_in_batches(producer, topic, batches=3, size=10)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        listed = (await consumer.end_offsets([partition(topic)]))[partition(topic)]
        measured = await end_offsets(consumer, [partition(topic)])
    finally:
        await consumer.stop()
    # The embedded broker's ListOffsets says 21 here (the last batch's base offset + 1); Kafka says 30.
    print(f"ListOffsets says {listed}, the fetch's high watermark {measured[partition(topic)]}")
    assert measured == {partition(topic): 30}


async def test_a_groups_lag_is_what_it_has_not_committed_past(
    broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    topic = broker.topic(topics.CONTACTS)
    group = broker.topic_prefix + "lagging"
    assert await group_lag(broker, group, [topic]) == {partition(topic): 0}  # an empty topic: nothing to do
    await _produce_in_batches(producer, topic, batches=2, size=10)
    assert await group_lag(broker, group, [topic]) == {partition(topic): 20}  # nothing committed: all of it
    member = AIOKafkaConsumer(bootstrap_servers=broker.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        member.assign([partition(topic)])
        await member.commit({partition(topic): 12})
    finally:
        await member.stop()
    assert await group_lag(broker, group, [topic]) == {partition(topic): 8}
    await _produce_in_batches(producer, topic, batches=1, size=5)
    assert await group_lag(broker, group, [topic]) == {partition(topic): 13}
