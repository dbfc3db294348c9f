"""Subscription.merge_partitions: a poll's events of several partitions handled in one transaction, each partition in
its order, every partition's offset committed; without it, a transaction a partition."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer
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
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, committed_offset, decided_event, handled_ids, record_handled, running
from tests.support import eventually

PARTITIONS = 3
PER_PARTITION = 4


@pytest.fixture
async def broker(engines: EngineSettings) -> EngineSettings:
    """In place of the runtime tests' own: topics of three partitions, under a prefix of this test's own (the
    `producer` fixture publishes to them)."""
    settings = engines.model_copy(update={"topic_prefix": f"rm{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=PARTITIONS)
    return settings


@pytest.mark.parametrize("merge", [True, False], ids=["merged", "a partition at a time"])
async def test_a_poll_of_several_partitions_is_one_run_when_merged(
    merge: bool, db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    # Every event is on the topic before the consumer starts, so its first poll holds all three partitions.
    partition_of: dict[uuid.UUID, int] = {}
    order: dict[int, list[uuid.UUID]] = {p: [] for p in range(PARTITIONS)}
    for p in range(PARTITIONS):
        for _ in range(PER_PARTITION):
            event = decided_event()
            partition_of[event.event_id] = p
            order[p].append(event.event_id)
            await producer.send_and_wait(broker.topic(topics.CONTACTS), encode_event(event), partition=p)

    runs: list[list[uuid.UUID]] = []

    async def handle(uow: UnitOfWork, events: Sequence[tuple[Envelope, BaseModel]]) -> None:
        runs.append([envelope.event_id for envelope, _ in events])
        for envelope, _ in events:
            await record_handled(uow, scratch, envelope)

    name = f"rm-{uuid.uuid4().hex[:10]}"
    runner = ConsumerRunner(
        subscription=Subscription(name=name, topics=[topics.CONTACTS], batch_handler=handle, merge_partitions=merge),
        settings=broker, sessions=create_session_factory(db), outbox=scratch.outbox, inbox=scratch.inbox,
        producer=producer,
    )  # fmt: skip
    everything = {p: PER_PARTITION for p in range(PARTITIONS)}

    async def done() -> bool:
        group, topic = broker.topic_prefix + name, broker.topic(topics.CONTACTS)
        assert {p: await committed_offset(broker, group, topic, p) for p in range(PARTITIONS)} == everything
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
