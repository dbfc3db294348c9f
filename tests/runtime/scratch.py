"""What the runtime tests build for themselves on the session's engines: a throwaway schema, topics, events.

Every test gets its own PostgreSQL schema (outbox, inbox and a `handled` table standing for a service's state) and
its own topic prefix, so nothing here disturbs the services the session runs, nor another test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import BigInteger, Column, Identity, MetaData, String, Table, Uuid, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.envelope import Envelope
from schemas.events import ContactDecided, Outcome, envelope_for
from services.runtime.consumer import ConsumerRunner
from services.runtime.messaging import UnitOfWork, inbox_table, outbox_table, outbox_trigger_sql
from services.runtime.producer import create_producer
from services.runtime.settings import EngineSettings


@dataclass(frozen=True)
class Scratch:
    """A schema of one test's own: an outbox (with its wake-up trigger), an inbox, and some state to change."""

    schema: str
    outbox: Table
    inbox: Table
    handled: Table


def scratch_tables(schema: str) -> Scratch:
    """The tables of a scratch schema (not yet created)."""
    metadata = MetaData(schema=schema)
    handled = Table(
        "handled",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False),  # deliberately not unique: handling twice must show
        Column("note", String(200), nullable=False, server_default=""),
    )
    return Scratch(schema, outbox_table(metadata), inbox_table(metadata), handled)


async def create_scratch(db: AsyncEngine) -> Scratch:
    """Creates a fresh scratch schema with the same outbox, trigger and inbox a service migration makes."""
    scratch = scratch_tables(f"t_rt_{uuid.uuid4().hex[:10]}")
    async with db.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {scratch.schema}"))
        await conn.run_sync(scratch.outbox.metadata.create_all)
        for statement in outbox_trigger_sql(scratch.schema):
            await conn.execute(text(statement))
    return scratch


async def drop_scratch(db: AsyncEngine, scratch: Scratch) -> None:
    """Drops a scratch schema and everything in it."""
    async with db.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {scratch.schema} CASCADE"))


async def record_handled(uow: UnitOfWork, scratch: Scratch, envelope: Envelope, note: str = "") -> None:
    """The state change a test handler makes: one row per handling."""
    await uow.session.execute(insert(scratch.handled).values(event_id=envelope.event_id, note=note))


async def handled_ids(db: AsyncEngine, scratch: Scratch) -> list[UUID]:
    """The event ids handled so far, in the order they were handled (a repeat shows as a repeat)."""
    async with db.connect() as conn:
        return list((await conn.execute(select(scratch.handled.c.event_id).order_by(scratch.handled.c.seq))).scalars())


async def count_rows(db: AsyncEngine, table: Table) -> int:
    """How many rows a table holds."""
    async with db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


def decided_event(*, contact_id: UUID | None = None, note: str = "needs a person") -> Envelope:
    """A valid `contact.decided` event (outcome pending), about a fresh contact unless one is given."""
    now = datetime.now(UTC)
    payload = ContactDecided(
        contact_id=contact_id or uuid.uuid4(),
        force="GMP",
        outcome=Outcome.PENDING,
        rationale=note,
        rules_version="runtime-tests",
        decided_at=now,
        recording_deadline=now + timedelta(hours=24),
        received_at=now,
        decided_by=None,
        problems=["left to a person"],
    )
    return envelope_for(payload, producer="runtime-tests", correlation_id=uuid.uuid4())


# ----------------------------------------------------------------------------------------------------- broker
# The tests create their topics with one partition, so partition 0 holds everything and offsets are simple.


def partition(topic: str) -> TopicPartition:
    """The one partition of a test topic."""
    return TopicPartition(topic, 0)


async def read_topic(settings: EngineSettings, topic: str, *, count: int, within: float = 15.0) -> list[ConsumerRecord]:
    """The first `count` records of a test topic (fewer if they do not arrive in time), read without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = partition(topic)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records: list[ConsumerRecord] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(records) < count and loop.time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200)
            records.extend(batch.get(tp, []))
        return records
    finally:
        await consumer.stop()


async def topic_size(settings: EngineSettings, topic: str) -> int:
    """How many records a test topic holds: its high watermark as a fetch reports it (nothing is ever deleted).

    Not `end_offsets`: the embedded broker (Tansu 0.6) answers ListOffsets with the last batch's base offset + 1,
    which undercounts a topic whose last batch holds several records.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = partition(topic)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
        return int(consumer.highwater(tp) or 0) if fetched else 0
    finally:
        await consumer.stop()


async def committed_offset(settings: EngineSettings, group: str, topic: str, number: int = 0) -> int | None:
    """The offset a consumer group has committed on a test topic (on its partition `number`; test topics have one
    unless a test makes more), as an operator's tooling would show it."""
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        await probe.start()
        return await probe.committed(TopicPartition(topic, number))
    finally:
        await probe.stop()


async def rewind_group(settings: EngineSettings, group: str, topic: str) -> None:
    """Moves a (stopped) group's committed offset back to the start, as an operator does to replay a topic."""
    probe = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )
    await probe.start()
    try:
        tp = partition(topic)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while tp not in probe.assignment():  # the embedded broker refuses commits from outside the group
            assert loop.time() < deadline, "the probe never joined the group"
            await probe.getmany(timeout_ms=100, max_records=1)
        await probe.commit({tp: 0})
    finally:
        await probe.stop()


async def produce(
    settings: EngineSettings,
    topic: str,
    values: Sequence[bytes | None],
    *,
    key: bytes = b"k",
    headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Puts raw records on a topic, in order, each acknowledged before the next."""
    producer = create_producer(settings, client_id="runtime-tests-raw")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


@asynccontextmanager
async def running(runner: ConsumerRunner) -> AsyncIterator[asyncio.Task[None]]:
    """Runs a consumer in the background for the block, then stops it (leaving its group)."""
    task = asyncio.create_task(runner.run(), name=f"test-consumer-{runner.subscription.name}")
    try:
        yield task
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
