"""The Kafka producer and topics: acks=all publishing, where a key's events land, and topics created on start."""

from __future__ import annotations

import functools
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from schemas import topics
from services.runtime.settings import EngineSettings

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16_384)
def partition_of(key: bytes, partitions: tuple[int, ...]) -> int:
    """The partition the producer's default partitioner gives a key (murmur2, as the Java client). Cached: it is
    pure Python, and a contact's events usually leave in the same run of the outbox."""
    return int(DefaultPartitioner()(key, list(partitions), list(partitions)))


def create_producer(settings: EngineSettings, *, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (acks=all) before an event counts as published."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=5,
        request_timeout_ms=15_000,
        # The relay builds one batch a partition per run of the outbox; below the broker's 1 MB message limit.
        max_batch_size=512 * 1024,
    )


async def ensure_topics(settings: EngineSettings, *, partitions: int = 6, replication: int = 1) -> None:
    """Creates every crimerec topic and its dead-letter topic where the broker does not have them yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="crimerec-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(name) for name in topics.ALL]
        wanted += [topics.dead_letter(name) for name in wanted]
        missing = [NewTopic(name, partitions, replication) for name in wanted if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them between our look and our create
    finally:
        await admin.close()
