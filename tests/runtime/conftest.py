"""Fixtures of the runtime tests: a scratch schema, topics under a prefix of the test's own, a producer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.producer import create_producer, ensure_topics
from services.runtime.settings import EngineSettings
from tests.runtime.scratch import Scratch, create_scratch, drop_scratch


@pytest.fixture
async def scratch(db: AsyncEngine) -> AsyncIterator[Scratch]:
    """A throwaway schema with an outbox, an inbox and a `handled` table, dropped after the test."""
    made = await create_scratch(db)
    yield made
    await drop_scratch(db, made)


@pytest.fixture
async def broker(engines: EngineSettings) -> EngineSettings:
    """The session's engines under a topic prefix of this test's own, its topics (one partition each) created."""
    settings = engines.model_copy(update={"topic_prefix": f"rt{uuid.uuid4().hex[:8]}."})
    await ensure_topics(settings, partitions=1)
    return settings


@pytest.fixture
async def producer(broker: EngineSettings) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer, configured as the services configure theirs."""
    started = create_producer(broker, client_id="runtime-tests")
    await started.start()
    yield started
    await started.stop()
