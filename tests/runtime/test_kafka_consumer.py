"""The consumer runner: each event handled once, offsets committed after the database, bad events to the .dlq."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, RequestTimedOutError
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from schemas.envelope import Envelope
from services.runtime.consumer import ConsumerRunner, Handler, Subscription, is_transient
from services.runtime.database import create_engine, create_session_factory
from services.runtime.messaging import UnitOfWork, encode_event, event_headers
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import (
    Scratch,
    committed_offset,
    count_rows,
    decided_event,
    handled_ids,
    produce,
    read_topic,
    record_handled,
    rewind_group,
    running,
    topic_size,
)
from tests.support import eventually


def runner_for(
    broker: EngineSettings,
    db: AsyncEngine,
    scratch: Scratch,
    producer: AIOKafkaProducer,
    handler: Handler,
    *,
    name: str | None = None,
    max_attempts: int = 3,
) -> ConsumerRunner:
    """A consumer of the test's contacts topic, with the scratch schema's inbox and outbox."""
    return ConsumerRunner(
        subscription=Subscription(
            name=name or f"rt-{uuid.uuid4().hex[:10]}", topics=[topics.CONTACTS], handler=handler
        ),
        settings=broker,
        sessions=create_session_factory(db),
        outbox=scratch.outbox,
        inbox=scratch.inbox,
        producer=producer,
        max_attempts=max_attempts,
    )


async def publish(broker: EngineSettings, *events: Envelope) -> None:
    """Puts events on the test's contacts topic as a relay would: keyed by contact, with the event headers."""
    for event in events:
        await produce(
            broker,
            broker.topic(topics.CONTACTS),
            [encode_event(event)],
            key=str(event.contact_id).encode(),
            headers=event_headers(event),
        )


async def caught_up(broker: EngineSettings, runner: ConsumerRunner, records: int) -> bool:
    """True once the runner's group has committed past all `records` records of the topic."""
    topic = broker.topic(topics.CONTACTS)
    assert await topic_size(broker, topic) == records
    committed = await committed_offset(broker, broker.topic_prefix + runner.subscription.name, topic)
    assert committed == records, f"committed offset {committed}, topic holds {records}"
    return True


def dead_letters_topic(broker: EngineSettings) -> str:
    return topics.dead_letter(broker.topic(topics.CONTACTS))


def metric(name: str, consumer: str) -> float:
    """A counter as /metrics shows it."""
    return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0.0


async def test_ensure_topics_creates_every_topic_and_its_dead_letter_topic_and_can_run_again(
    engines: EngineSettings,
) -> None:
    settings = engines.model_copy(update={"topic_prefix": f"rt{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=2)
    await ensure_topics(settings, partitions=2)  # every service runs it at start: a second run changes nothing

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        mine = {name for name in await admin.list_topics() if name.startswith(settings.topic_prefix)}
        described = await admin.describe_topics(sorted(mine))
    finally:
        await admin.close()
    prefix = settings.topic_prefix
    assert mine == {prefix + name for name in ("contacts", "records", "alerts")} | {
        prefix + name + ".dlq" for name in ("contacts", "records", "alerts")
    }
    assert {len(topic["partitions"]) for topic in described} == {2}


async def test_events_are_handled_once_in_order_and_offsets_committed_after_the_transaction(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        await record_handled(uow, scratch, envelope)
        uow.emit(topics.RECORDS, decided_event(contact_id=envelope.contact_id, note="reaction"))

    first, second, third = decided_event(), decided_event(), decided_event()
    await publish(broker, first, second, second, third)  # `second` delivered twice, as after a lost commit
    runner = runner_for(broker, db, scratch, producer, handle)
    name = runner.subscription.name
    duplicates_before = metric("crimerec_events_duplicate_total", name)

    async with running(runner):
        await eventually(lambda: caught_up(broker, runner, 4), within=20)

    assert await handled_ids(db, scratch) == [first.event_id, second.event_id, third.event_id]
    async with db.connect() as conn:
        claimed = set((await conn.execute(select(scratch.inbox.c.consumer, scratch.inbox.c.event_id))).all())
        reactions = (await conn.execute(select(scratch.outbox.c.topic, scratch.outbox.c.key))).all()
    assert claimed == {(name, e.event_id) for e in (first, second, third)}
    # Each handling's own event went to the outbox in the same transaction, once per event handled.
    assert sorted(reactions) == sorted(
        (broker.topic(topics.RECORDS), str(e.contact_id)) for e in (first, second, third)
    )
    assert metric("crimerec_events_duplicate_total", name) == duplicates_before + 1
    assert await topic_size(broker, dead_letters_topic(broker)) == 0

    # An operator rewinds the group (a replay): the restarted consumer sees everything again and changes nothing.
    group = broker.topic_prefix + name
    await rewind_group(broker, group, broker.topic(topics.CONTACTS))
    assert await committed_offset(broker, group, broker.topic(topics.CONTACTS)) == 0
    restarted = runner_for(broker, db, scratch, producer, handle, name=name)
    async with running(restarted):
        await eventually(lambda: caught_up(broker, restarted, 4), within=20)
    assert await handled_ids(db, scratch) == [first.event_id, second.event_id, third.event_id]
    assert await count_rows(db, scratch.outbox) == 3


def _as_bytes(envelope: Envelope, **changes: object) -> bytes:
    """An envelope with some fields replaced, without validating the result (as a faulty producer would send)."""
    return Envelope.model_construct(**(envelope.model_dump() | changes)).model_dump_json().encode()


def poison_records() -> list[tuple[str, bytes | None, str]]:
    """(what is wrong, the record's value, a phrase the dead letter's error names)."""
    good = decided_event()
    payload = good.payload
    return [
        ("not JSON at all", b"\x00\xffthis is not json", "Invalid JSON"),
        ("JSON, not an envelope", b'{"hello": "world"}', "event_type"),
        ("a JSON list", b"[1, 2, 3]", "Envelope"),
        ("no value (a tombstone)", None, "record has no value"),
        ("an unknown event type", _as_bytes(good, event_type="contact.teleported"), "unknown event type"),
        (
            "a payload missing a field",
            _as_bytes(good, payload={k: v for k, v in payload.items() if k != "rationale"}),
            "rationale",
        ),
        ("a payload field of the wrong kind", _as_bytes(good, payload=payload | {"outcome": "maybe"}), "outcome"),
        ("a payload about another contact", _as_bytes(good, contact_id=uuid.uuid4()), "payload is about contact"),
        ("a newer schema version", _as_bytes(good, schema_version=2), "newer than this reader"),
    ]


async def test_malformed_records_go_to_the_dead_letter_topic_with_the_error_and_the_next_event_is_handled(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        await record_handled(uow, scratch, envelope)

    cases = poison_records()
    topic = broker.topic(topics.CONTACTS)
    await produce(broker, topic, [value for _, value, _ in cases], key=b"the-key", headers=[("trace", b"t-1")])
    good = decided_event()
    await publish(broker, good)
    runner = runner_for(broker, db, scratch, producer, handle)

    async with running(runner):
        await eventually(lambda: caught_up(broker, runner, len(cases) + 1), within=20)

    assert await handled_ids(db, scratch) == [good.event_id]
    dead = await read_topic(broker, topics.dead_letter(topic), count=len(cases))
    assert len(dead) == len(cases)
    for offset, ((what, value, phrase), letter) in enumerate(zip(cases, dead, strict=True)):
        headers = {k: v.decode(errors="replace") for k, v in letter.headers}
        assert letter.value == value, what
        assert letter.key == b"the-key", what
        assert phrase in headers["dlq.error"], (what, headers["dlq.error"])
        assert headers["dlq.error_type"] == "PoisonEvent", what
        assert headers["dlq.consumer"] == runner.subscription.name, what
        assert headers["dlq.original_topic"] == topic, what
        assert headers["dlq.original_partition"] == "0", what
        assert headers["dlq.original_offset"] == str(offset), what
        assert headers["dlq.attempts"] == "1", what
        assert headers["trace"] == "t-1", what  # the original headers travel with it


class OffenceRefused(Exception):
    """A handler's own, non-transient failure."""


async def test_an_event_whose_handler_always_fails_is_dead_lettered_and_its_neighbours_are_handled(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    before, bad, after = decided_event(), decided_event(), decided_event()
    calls: Counter[UUID] = Counter()

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        calls[envelope.event_id] += 1
        await record_handled(uow, scratch, envelope)
        if envelope.event_id == bad.event_id:
            raise OffenceRefused("class 999/99 is not in the offence catalogue")

    await publish(broker, before, bad, after)  # all there before the consumer starts: one batch
    runner = runner_for(broker, db, scratch, producer, handle, max_attempts=3)
    async with running(runner):
        await eventually(lambda: caught_up(broker, runner, 3), within=20)

    assert await handled_ids(db, scratch) == [before.event_id, after.event_id]
    dead = await read_topic(broker, dead_letters_topic(broker), count=1)
    assert [letter.value for letter in dead] == [encode_event(bad)]
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["dlq.error"] == "class 999/99 is not in the offence catalogue"
    assert headers["dlq.error_type"] == "OffenceRefused"
    assert headers["dlq.attempts"] == "3"
    assert headers["dlq.original_offset"] == "1"
    assert headers["event_id"] == str(bad.event_id)
    assert calls[bad.event_id] >= 3
    async with db.connect() as conn:
        claimed = set((await conn.execute(select(scratch.inbox.c.event_id))).scalars())
    assert claimed == {before.event_id, after.event_id}  # the failed handling left no trace but the dead letter


async def test_transient_faults_are_retried_past_max_attempts_and_never_dead_lettered(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    database_away, broker_away, fine = decided_event(), decided_event(), decided_event()
    faults: dict[UUID, Exception] = {
        database_away.event_id: OperationalError("SELECT 1", {}, ConnectionRefusedError("database is starting up")),
        broker_away.event_id: ConnectionResetError("connection reset by peer"),
    }
    calls: Counter[UUID] = Counter()

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        calls[envelope.event_id] += 1
        if envelope.event_id in faults and calls[envelope.event_id] <= 2:
            raise faults[envelope.event_id]
        await record_handled(uow, scratch, envelope)

    await publish(broker, database_away, broker_away, fine)
    runner = runner_for(broker, db, scratch, producer, handle, max_attempts=1)  # one non-transient failure is enough
    retries_before = metric("crimerec_consumer_transient_retries_total", runner.subscription.name)
    async with running(runner):
        await eventually(lambda: caught_up(broker, runner, 3), within=25)

    assert await handled_ids(db, scratch) == [database_away.event_id, broker_away.event_id, fine.event_id]
    assert calls[database_away.event_id] >= 3 and calls[broker_away.event_id] >= 3
    assert await topic_size(broker, dead_letters_topic(broker)) == 0
    assert metric("crimerec_consumer_transient_retries_total", runner.subscription.name) >= retries_before + 4


async def test_the_offset_is_not_committed_while_an_event_is_still_being_retried(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    first, stuck = decided_event(), decided_event()
    database_back = asyncio.Event()
    calls: Counter[UUID] = Counter()

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        calls[envelope.event_id] += 1
        if envelope.event_id == stuck.event_id and not database_back.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("the database is away"))
        await record_handled(uow, scratch, envelope)

    runner = runner_for(broker, db, scratch, producer, handle)
    group, topic = broker.topic_prefix + runner.subscription.name, broker.topic(topics.CONTACTS)
    async with running(runner):
        await publish(broker, first)
        await eventually(lambda: caught_up(broker, runner, 1), within=20)
        await publish(broker, stuck)

        async def retried_twice() -> bool:
            assert calls[stuck.event_id] >= 2
            return True

        await eventually(retried_twice, within=10)
        assert await committed_offset(broker, group, topic) == 1  # the stuck event (offset 1) is still to do
        assert await handled_ids(db, scratch) == [first.event_id]

        database_back.set()
        await eventually(lambda: caught_up(broker, runner, 2), within=15)
    assert await handled_ids(db, scratch) == [first.event_id, stuck.event_id]
    assert await topic_size(broker, dead_letters_topic(broker)) == 0


async def test_a_serialization_failure_from_postgres_is_retried_not_dead_lettered(
    db: AsyncEngine, scratch: Scratch, broker: EngineSettings, producer: AIOKafkaProducer
) -> None:
    event = decided_event()
    calls: Counter[UUID] = Counter()

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        calls[envelope.event_id] += 1
        if calls[envelope.event_id] == 1:  # as when a concurrent transaction wrote the same rows first
            await uow.session.execute(text(raise_sql("40001")))
        await record_handled(uow, scratch, envelope)

    await publish(broker, event)
    runner = runner_for(broker, db, scratch, producer, handle, max_attempts=1)
    async with running(runner):

        async def settled() -> bool:
            assert await handled_ids(db, scratch) or await topic_size(broker, dead_letters_topic(broker))
            return True

        await eventually(settled, within=20)
    assert await topic_size(broker, dead_letters_topic(broker)) == 0
    assert await handled_ids(db, scratch) == [event.event_id]


# ------------------------------------------------------------------------------------------------ is_transient


def _caused_by(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("while handling an event") from cause
    except RuntimeError as exc:
        return exc


def _validation_error() -> ValidationError:
    try:
        Envelope.model_validate({})
    except ValidationError as exc:
        return exc
    raise AssertionError("an empty envelope validated")


@pytest.mark.parametrize(
    ("fault", "transient"),
    [
        (OperationalError("SELECT 1", {}, ConnectionRefusedError()), True),
        (InterfaceError("SELECT 1", {}, Exception("connection is closed")), True),
        (DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True), True),
        (ConnectionRefusedError("connect call failed"), True),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError(), True),
        (KafkaConnectionError("broker away"), True),
        (RequestTimedOutError(), True),
        (_caused_by(ConnectionResetError()), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint")), False),
        (ProgrammingError("SELECT nope", {}, Exception("column nope does not exist")), False),
        (DBAPIError("SELECT 1", {}, Exception("division by zero")), False),
        (ValueError("bad value"), False),
        (KeyError("missing"), False),
        (_validation_error(), False),
        (OffenceRefused("not in the catalogue"), False),
        (_caused_by(ValueError("bad value")), False),
        # Not everything with "error" in its family goes away by waiting: these are retried boundedly, then .dlq.
        (PermissionError("read-only file"), False),
        (FileNotFoundError("no such file"), False),
        (MessageSizeTooLargeError(), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_is_transient(fault: BaseException, transient: bool) -> None:
    assert is_transient(fault) is transient


def raise_sql(sqlstate: str) -> str:
    """A statement that makes PostgreSQL report an error with this SQLSTATE."""
    return f"DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = '{sqlstate}'; END $$"


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [
        pytest.param("40001", True, id="serialization_failure"),
        pytest.param("40P01", True, id="deadlock_detected"),
        pytest.param("53300", True, id="too_many_connections"),
        pytest.param("57P03", True, id="cannot_connect_now"),
        pytest.param("08006", True, id="connection_failure"),
        pytest.param("23505", False, id="unique_violation"),
        pytest.param("23503", False, id="foreign_key_violation"),
        pytest.param("22P02", False, id="invalid_text_representation"),
        pytest.param("42P01", False, id="undefined_table"),
    ],
)
async def test_is_transient_on_errors_postgres_reports(db: AsyncEngine, sqlstate: str, transient: bool) -> None:
    with pytest.raises(DBAPIError) as raised:
        async with db.begin() as conn:
            await conn.execute(text(raise_sql(sqlstate)))
    assert is_transient(raised.value) is transient


async def test_a_connection_the_server_terminated_is_transient(db: AsyncEngine, engines: EngineSettings) -> None:
    victim = create_engine(engines)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with victim.connect() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                async with db.connect() as admin:
                    await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await conn.execute(text("SELECT 1"))
    finally:
        await victim.dispose()
    assert is_transient(raised.value) is True


def test_a_poison_event_is_described_by_where_it_is_wrong_never_by_what_it_says() -> None:
    """A victim's account in a malformed event must not reach the logs or the dead letter's headers."""
    from services.runtime.consumer import PoisonEvent, parse_event

    good = decided_event()
    marker = "Mrs Annabel Secretvictim of 12 Hidden Lane"
    bad = _as_bytes(good, payload=good.payload | {"outcome": marker, "rationale": 12345})
    with pytest.raises(PoisonEvent) as caught:
        parse_event(bad)
    message = str(caught.value)
    assert "outcome" in message and "rationale" in message
    assert marker not in message and "Secretvictim" not in message
    assert "12345" not in message
