"""Dead letters: the events a consumer could not handle, listed with why and where from, and replayed after a fix.

A consumer puts such an event on `<topic>.dlq` with its reason and origin in `dlq.*` headers (see
services/runtime/consumer.py). Replay puts each back on its source topic, as it was (key, value, its own headers), so
the fixed consumer handles it; the replay's own consumer group remembers what it replayed, so a second replay only
takes dead letters that arrived since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas import topics
from services.runtime.producer import create_producer
from services.runtime.settings import EngineSettings

REPLAY_GROUP = "crimerec.deadletters.replay"
_DLQ_HEADER = "dlq."


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered event: where it sits, where it came from, why it was refused, and the event itself."""

    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    reason: str
    error_type: str
    consumer: str
    attempts: int | None
    dead_at: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the event's own headers, without the dlq.* ones

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        """Reads a dead letter from its .dlq record."""
        headers = record.headers or ()
        dlq = {k.removeprefix(_DLQ_HEADER): v.decode(errors="replace") for k, v in headers if k.startswith(_DLQ_HEADER)}
        own = tuple((k, v) for k, v in headers if not k.startswith(_DLQ_HEADER))
        return cls(
            dlq_topic=record.topic,
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            source_topic=dlq.get("original_topic") or record.topic.removesuffix(topics.DLQ_SUFFIX),
            source_partition=_int(dlq.get("original_partition")),
            source_offset=_int(dlq.get("original_offset")),
            reason=dlq.get("error", "(no reason recorded)"),
            error_type=dlq.get("error_type", ""),
            consumer=dlq.get("consumer", ""),
            attempts=_int(dlq.get("attempts")),
            dead_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            key=record.key,
            value=record.value,
            headers=own,
        )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def dead_letter_topics(settings: EngineSettings) -> list[str]:
    """Every crimerec dead-letter topic (with the settings' topic prefix)."""
    return [topics.dead_letter(settings.topic(name)) for name in topics.ALL]


async def _read_to_end(consumer: AIOKafkaConsumer, names: Sequence[str], *, from_committed: bool) -> list[DeadLetter]:
    """Assigns every partition of `names`, reads from the start (or the group's committed offset) to the end."""
    partitions = []
    for name in names:
        partitions += [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
    if not partitions:
        return []
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    for tp in partitions:
        committed = await consumer.committed(tp) if from_committed else None
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)
    letters: list[DeadLetter] = []
    while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
        batches = await consumer.getmany(timeout_ms=1000)
        for records in batches.values():
            letters += [DeadLetter.of(r) for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
    return sorted(letters, key=lambda d: (d.dlq_topic, d.dlq_partition, d.dlq_offset))


async def list_dead_letters(settings: EngineSettings) -> list[DeadLetter]:
    """Every dead letter on every crimerec dead-letter topic, oldest first per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        return await _read_to_end(consumer, dead_letter_topics(settings), from_committed=False)
    finally:
        await consumer.stop()


async def replay_dead_letters(settings: EngineSettings, *, source_topic: str | None = None) -> list[DeadLetter]:
    """Puts every dead letter not replayed before back on its source topic (only `source_topic`'s, if given);
    returns what it replayed. Run it after the fix: an event that is still bad comes back to the .dlq."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.topic_prefix + REPLAY_GROUP,
        enable_auto_commit=False,
    )
    producer: AIOKafkaProducer = create_producer(settings, client_id="crimerec-deadletters")
    await consumer.start()
    await producer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        names = dead_letter_topics(settings)
        if source_topic is not None:
            names = [n for n in names if n == topics.dead_letter(source_topic)]
        letters = await _read_to_end(consumer, names, from_committed=True)
        replayed = []
        for letter in letters:
            headers = [*letter.headers, ("dlq.replayed_from", f"{letter.dlq_topic}:{letter.dlq_offset}".encode())]
            # send_and_wait: the letter is back on its topic before the group moves past it
            await producer.send_and_wait(letter.source_topic, letter.value, key=letter.key, headers=headers)
            tp = TopicPartition(letter.dlq_topic, letter.dlq_partition)
            await consumer.commit({tp: letter.dlq_offset + 1})
            replayed.append(letter)
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
