"""Re-seeding a broker that lost its log sends again only what some consuming group has not handled (by the inboxes),
and every retained event of a topic whose consumers crimerec does not know."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from crimerec.reseed import CONSUMERS, RECORDER_CONTACTS, republish_unhandled
from schemas import topics
from schemas.catalogue import OffenceCatalogue
from services.auditor import handlers as auditor_handlers
from services.auditor import models as auditor_models
from services.auditor.rules.policy import AuditPolicy
from services.auditor.rules.standard import Standard
from services.intake import handlers as intake_handlers
from services.intake import models as intake_models
from services.recorder import handlers as recorder_handlers
from services.recorder import models as recorder_models
from services.runtime.database import create_engine
from services.runtime.settings import EngineSettings
from tests.conftest import Server, create_database, drop_database


@pytest.fixture
def fresh_database(pg_server: Server, engines: EngineSettings) -> Iterator[EngineSettings]:
    """A database of this test's own (a re-seed touches every outbox row), migrated."""
    url = create_database(pg_server, prefix="crimerec_reseed")
    stack.migrate_all(url)
    yield engines.model_copy(update={"database_url": SecretStr(url)})
    drop_database(pg_server, url)


@pytest.fixture
async def fresh(fresh_database: EngineSettings) -> AsyncIterator[tuple[AsyncEngine, EngineSettings]]:
    engine = create_engine(fresh_database)
    yield engine, fresh_database
    await engine.dispose()


async def _row(engine: AsyncEngine, outbox: Table, topic: str, *handled_by: tuple[Table, str]) -> uuid.UUID:
    """A published outbox row, handled by the given (inbox, consumer) groups."""
    event_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(outbox).values(
                event_id=event_id, topic=topic, key="k", value=b"{}", headers={}, published_at=text("now()")
            )
        )
        for inbox, consumer in handled_by:
            await conn.execute(insert(inbox).values(consumer=consumer, event_id=event_id))
    return event_id


async def _unpublished(engine: AsyncEngine, outbox: Table) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(outbox.c.event_id).where(outbox.c.published_at.is_(None)))).scalars())


async def test_only_events_some_group_has_not_handled_are_published_again(
    fresh: tuple[AsyncEngine, EngineSettings],
) -> None:
    engine, settings = fresh
    recorder = (recorder_models.inbox, RECORDER_CONTACTS)
    auditor = (auditor_models.inbox, "auditor.projection")
    intake = (intake_models.inbox, "intake.decisions")
    contacts, records = settings.topic(topics.CONTACTS), settings.topic(topics.RECORDS)
    by_all = await _row(engine, intake_models.outbox, contacts, recorder, auditor)
    by_recorder_only = await _row(engine, intake_models.outbox, contacts, recorder)
    by_none = await _row(engine, intake_models.outbox, contacts)
    record_by_all = await _row(engine, recorder_models.outbox, records, intake, auditor)
    record_by_auditor = await _row(engine, recorder_models.outbox, records, auditor)
    alert = await _row(engine, auditor_models.outbox, settings.topic(topics.ALERTS))  # read outside crimerec

    assert await republish_unhandled(engine, intake_models.outbox, settings) == 2
    assert await republish_unhandled(engine, recorder_models.outbox, settings) == 1
    assert await republish_unhandled(engine, auditor_models.outbox, settings) == 1
    assert await _unpublished(engine, intake_models.outbox) == {by_recorder_only, by_none}
    assert await _unpublished(engine, recorder_models.outbox) == {record_by_auditor}
    assert await _unpublished(engine, auditor_models.outbox) == {alert}
    assert by_all and record_by_all  # still published: every group has them


def test_the_consumers_re_seeding_knows_are_the_services_own_subscriptions() -> None:
    subscriptions = [
        *intake_handlers.SUBSCRIPTIONS,
        *recorder_handlers.subscriptions(policy=None),  # type: ignore[arg-type]
        *auditor_handlers.subscriptions(standard=Standard(catalogue=OffenceCatalogue.default(), policy=AuditPolicy())),
    ]
    actual = {(topic, s.name) for s in subscriptions for topic in s.topics}
    known = {(topic, group.consumer) for topic, groups in CONSUMERS.items() for group in groups}
    assert known == actual
