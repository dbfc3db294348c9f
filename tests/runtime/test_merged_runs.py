"""Subscription.merge_partitions: a poll's events of several partitions handled in one transaction, each partition in
its order, every partition's offset committed; without it, a transaction a partition."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.envelope import Envelope
from services.auditor.handlers import subscriptions as auditor_subscriptions
from services.auditor.rules.policy import AuditPolicy
from services.auditor.rules.standard import Standard
from services.recorder.handlers import subscriptions as recorder_subscriptions
from services.recorder.recording import RecorderPolicy
from services.recorder.rules.authority import AuthorityPolicy
from services.runtime.consumer import ConsumerRunner, Subscription
from services.runtime.database import create_session_factory
from services.runtime.messaging import UnitOfWork, encode_event
from services.runtime.producer import create_producer, ensure_topics
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, decided_event, handled_ids, record_handled, running
from tests.support import eventually

PARTITIONS = 3
PER_PARTITION = 4


@pytest.fixture
async def three(engines: EngineSettings) -> EngineSettings:
    """Topics of three partitions, under a prefix of this test's own."""
    settings = engines.model_copy(update={"topic_prefix": f"rm{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=PARTITIONS)
    return settings


@pytest.fixture
async def producer(three: EngineSettings) -> AsyncIterator[AIOKafkaProducer]:
    started = create_producer(three, client_id="merged-runs-tests")
    await started.start()
    yield started
    await started.stop()


async def committed(settings: EngineSettings, group: str) -> dict[int, int | None]:
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        await probe.start()
        topic = settings.topic(topics.CONTACTS)
        return {p: await probe.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        await probe.stop()


@pytest.mark.parametrize("merge", [True, False], ids=["merged", "a partition at a time"])
async def test_a_poll_of_several_partitions_is_one_run_when_merged(
    merge: bool, db: AsyncEngine, scratch: Scratch, three: EngineSettings, producer: AIOKafkaProducer
) -> None:
    # Every event is on the topic before the consumer starts, so its first poll holds all three partitions.
    partition_of: dict[uuid.UUID, int] = {}
    order: dict[int, list[uuid.UUID]] = {p: [] for p in range(PARTITIONS)}
    for p in range(PARTITIONS):
        for _ in range(PER_PARTITION):
            event = decided_event()
            partition_of[event.event_id] = p
            order[p].append(event.event_id)
            await producer.send_and_wait(three.topic(topics.CONTACTS), encode_event(event), partition=p)

    runs: list[list[uuid.UUID]] = []

    async def handle(uow: UnitOfWork, events: Sequence[tuple[Envelope, BaseModel]]) -> None:
        runs.append([envelope.event_id for envelope, _ in events])
        for envelope, _ in events:
            await record_handled(uow, scratch, envelope)

    name = f"rm-{uuid.uuid4().hex[:10]}"
    runner = ConsumerRunner(
        subscription=Subscription(name=name, topics=[topics.CONTACTS], batch_handler=handle, merge_partitions=merge),
        settings=three, sessions=create_session_factory(db), outbox=scratch.outbox, inbox=scratch.inbox,
        producer=producer,
    )  # fmt: skip
    everything = {p: PER_PARTITION for p in range(PARTITIONS)}

    async def done() -> bool:
        assert await committed(three, three.topic_prefix + name) == everything
        return True

    async with running(runner):
        await eventually(done, within=20)

    handled = await handled_ids(db, scratch)
    assert sorted(handled) == sorted(partition_of)  # each once
    for p, ids in order.items():  # each partition in its order
        assert [i for i in handled if partition_of[i] == p] == ids
    spans = [{partition_of[i] for i in run} for run in runs]
    if merge:
        assert spans[0] == set(range(PARTITIONS)), spans  # the first poll: one transaction for all three
    else:
        assert all(len(span) == 1 for span in spans), spans


def test_which_subscriptions_merge() -> None:
    """The recorder's contacts merge; the auditor's projection merges on the live clock, and on event time (where
    the watermark follows each partition's events) takes a partition at a time."""
    catalogue = OffenceCatalogue.default()
    policy = RecorderPolicy(
        catalogue=catalogue, limit=timedelta(hours=24), authority=AuthorityPolicy(), force_authority={}
    )
    assert [s.merge_partitions for s in recorder_subscriptions(policy=policy)] == [True]
    for event_time in (False, True):
        standard = Standard(catalogue=catalogue, policy=AuditPolicy(), event_time=event_time)
        assert [s.merge_partitions for s in auditor_subscriptions(standard=standard)] == [not event_time]
