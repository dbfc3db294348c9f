"""End offsets and consumer lag as they really are, on Apache Kafka and on the embedded broker alike.

The embedded broker (Tansu 0.6, memory storage) answers ListOffsets ("latest") with the base offset of a partition's
last batch plus one, not the offset after its last record: a partition whose last batch holds ten records looks nine
records shorter than it is, and a consumer's lag reads too small (or negative). A fetch response's high watermark is
right on both, so the end of a partition is measured by fetching its last batch: ListOffsets says where that batch
starts (on Kafka, where the last record is), the fetch's high watermark where the partition ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.runtime.settings import EngineSettings


async def end_offsets(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition, through a started consumer of no group (it is assigned
    the partitions and moved about; give it to nothing else)."""
    listed = {tp: int(offset) for tp, offset in (await consumer.end_offsets(list(partitions))).items()}
    ends = dict(listed)
    pending = {tp for tp, offset in listed.items() if offset > 0}
    if not pending:
        return ends
    consumer.assign(sorted(pending))
    for tp in pending:
        consumer.seek(tp, listed[tp] - 1)  # the last batch (Tansu) or the last record (Kafka)
    async with asyncio.timeout(10):
        while pending:
            await consumer.getmany(*pending, timeout_ms=500, max_records=1)
            for tp in list(pending):
                high = consumer.highwater(tp)
                if high is not None:
                    ends[tp] = max(int(high), listed[tp])
                    pending.discard(tp)
    return ends


async def group_lag(settings: EngineSettings, group: str, topic_names: Sequence[str]) -> dict[TopicPartition, int]:
    """How many records of each partition of these topics the consumer group has not committed past (a group that
    committed nothing lags by everything from the partition's beginning)."""
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, client_id="lag")
    member = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False, client_id="lag"
    )
    await probe.start()
    await member.start()
    try:
        await probe.topics()  # metadata of every topic, so their partitions are known
        partitions = [
            TopicPartition(name, p) for name in topic_names for p in sorted(probe.partitions_for_topic(name) or ())
        ]
        if not partitions:
            return {}
        member.assign(partitions)  # to ask for its committed offsets; it fetches nothing
        ends = await end_offsets(probe, partitions)
        starts = await probe.beginning_offsets(partitions)
        lag = {}
        for tp in partitions:
            committed = await member.committed(tp)
            lag[tp] = max(ends[tp] - (committed if committed is not None else int(starts[tp])), 0)
        return lag
    finally:
        await member.stop()
        await probe.stop()
