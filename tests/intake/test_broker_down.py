"""The broker being down does not stop intake: contacts wait in the outbox and drain when it returns (issue 3).

These tests stop and start a broker, so they have their own: an embedded Tansu broker on a fixed port, and their own
database, so that no other relay in the session publishes their outbox for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from crimerec.embedded import EmbeddedKafka, free_port
from schemas import topics
from schemas.events import Role
from services.intake.app import create_app
from services.intake.models import outbox
from services.intake.settings import IntakeSettings
from services.runtime.database import create_engine
from services.runtime.settings import EngineSettings
from tests.conftest import Server, create_database, drop_database, engine_settings
from tests.intake.helpers import post
from tests.support import contact, eventually


@dataclass
class Isolated:
    """A database of their own and a broker that the tests may stop and start."""

    engines: EngineSettings
    broker: EmbeddedKafka
    db: AsyncEngine
    call_handler: dict[str, str]


@pytest.fixture(scope="module")
def isolated_database(pg_server: Server) -> Iterator[str]:
    url = create_database(pg_server, prefix="crimerec_intake_broker")
    stack.migrate_all(url)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
async def isolated(isolated_database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Isolated]:
    port = free_port()
    broker = EmbeddedKafka(Path(tmp_path_factory.mktemp("intake-broker")), port=port)
    engines = engine_settings(
        isolated_database, (f"127.0.0.1:{port}", True), topic_prefix=f"down{uuid.uuid4().hex[:6]}."
    )
    keys = await stack.issue_keys(engines, force="GMP", roles=[Role.CALL_HANDLER], label="broker-down")
    db = create_engine(engines)
    try:
        yield Isolated(engines, broker, db, {"Authorization": f"Bearer {keys[Role.CALL_HANDLER.value]}"})
    finally:
        await db.dispose()
        await asyncio.to_thread(broker.stop)


@pytest.fixture
async def broker_stopped_after(isolated: Isolated) -> AsyncIterator[Isolated]:
    """The isolated engines, with the broker stopped again whatever the test did."""
    yield isolated
    await asyncio.to_thread(isolated.broker.stop)


async def start_broker(isolated: Isolated) -> None:
    """Starts the broker (again) and creates the topics, as `crimerec up` does; its log starts empty."""
    await asyncio.to_thread(isolated.broker.start)
    await stack.prepare_broker(isolated.engines, republish=False)


async def stop_broker(isolated: Isolated) -> None:
    await asyncio.to_thread(isolated.broker.stop)


@contextlib.asynccontextmanager
async def running_intake(engines: EngineSettings, *, within: float = 15.0) -> AsyncIterator[httpx.AsyncClient]:
    """An intake app with its lifespan started (failing if the start takes longer than `within` seconds)."""
    app: FastAPI = create_app(IntakeSettings(engines=engines))
    lifespan = app.router.lifespan_context(app)
    try:
        async with asyncio.timeout(within):
            await lifespan.__aenter__()
    except TimeoutError:
        runtime = app.state.runtime
        with contextlib.suppress(Exception):
            await runtime.producer.stop()
        with contextlib.suppress(Exception):
            await runtime.engine.dispose()
        raise AssertionError(f"intake did not start within {within} s while the broker was down") from None
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client
    finally:
        await lifespan.__aexit__(None, None, None)


async def outbox_row(db: AsyncEngine, contact_id: str) -> Any:
    async with db.connect() as conn:
        return (await conn.execute(select(outbox).where(outbox.c.key == contact_id))).one()


async def status(client: httpx.AsyncClient, isolated: Isolated, contact_id: str) -> str:
    response = await client.get(f"/v1/contacts/{contact_id}", headers=isolated.call_handler)
    assert response.status_code == 200, response.text
    value: str = response.json()["status"]
    return value


async def on_the_broker(isolated: Isolated, event_id: uuid.UUID, *, within: float = 20.0) -> bool:
    """Whether an event is on the contacts topic (read from the start of every partition, no consumer group)."""
    topic = isolated.engines.topic(topics.CONTACTS)
    consumer = AIOKafkaConsumer(bootstrap_servers=isolated.engines.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # a fresh metadata request
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        assert partitions, f"no partitions for {topic}"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + within
        # Read everything up to the end offsets seen at the start (an empty fetch does not mean the end).
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert asyncio.get_running_loop().time() < deadline, "the topic could not be read to its end"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if dict(record.headers).get("event_id") == str(event_id).encode():
                        return True
        return False
    finally:
        await consumer.stop()


async def test_a_contact_accepted_while_the_broker_is_away_is_published_when_it_returns(
    broker_stopped_after: Isolated,
) -> None:
    isolated = broker_stopped_after
    await start_broker(isolated)
    async with running_intake(isolated.engines) as client:
        first = await post(client, contact(), auth=isolated.call_handler)
        assert first.status_code == 201, first.text

        async def published() -> bool:
            return (await outbox_row(isolated.db, first.json()["contact_id"])).published_at is not None

        await eventually(published)

        await stop_broker(isolated)
        response = await post(client, contact(), auth=isolated.call_handler)
        assert response.status_code == 201, response.text
        contact_id = response.json()["contact_id"]
        row = await outbox_row(isolated.db, contact_id)
        assert row.published_at is None
        assert await status(client, isolated, contact_id) == "received"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"

        await start_broker(isolated)

        async def published_again() -> bool:
            return (await outbox_row(isolated.db, contact_id)).published_at is not None

        await eventually(published_again, within=60)
        assert await status(client, isolated, contact_id) == "published"
        assert await on_the_broker(isolated, row.event_id)


async def test_intake_starts_and_accepts_contacts_while_the_broker_is_down(broker_stopped_after: Isolated) -> None:
    isolated = broker_stopped_after
    assert not isolated.broker.is_running()
    async with running_intake(isolated.engines) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"].startswith("unavailable")

        response = await post(client, contact(), auth=isolated.call_handler)
        assert response.status_code == 201, response.text
        contact_id = response.json()["contact_id"]
        row = await outbox_row(isolated.db, contact_id)
        assert row.published_at is None
        assert await status(client, isolated, contact_id) == "received"

        await start_broker(isolated)

        async def published() -> bool:
            return (await outbox_row(isolated.db, contact_id)).published_at is not None

        await eventually(published, within=60)
        assert await status(client, isolated, contact_id) == "published"
        assert await on_the_broker(isolated, row.event_id)
        assert (await client.get("/readyz")).status_code == 200
