"""The unit of work and the inbox: state and events commit together, and an event is handled once per consumer."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.database import create_session_factory
from services.runtime.messaging import encode_event, event_headers, unit_of_work
from tests.runtime.scratch import Scratch, count_rows, decided_event, handled_ids, record_handled


async def test_a_unit_of_work_commits_its_state_and_its_events_together(db: AsyncEngine, scratch: Scratch) -> None:
    sessions = create_session_factory(db)
    contact_id = uuid.uuid4()
    first, second = decided_event(contact_id=contact_id), decided_event(contact_id=contact_id)

    async with unit_of_work(sessions, scratch.outbox, topic_prefix="force-a.") as uow:
        await record_handled(uow, scratch, first)
        uow.emit("records", first)
        uow.emit("contacts", second)

    assert await handled_ids(db, scratch) == [first.event_id]
    async with db.connect() as conn:
        rows = (await conn.execute(select(scratch.outbox).order_by(scratch.outbox.c.id))).all()
    assert [(r.event_id, r.topic, r.key) for r in rows] == [
        (first.event_id, "force-a.records", str(contact_id)),
        (second.event_id, "force-a.contacts", str(contact_id)),
    ]
    assert rows[0].value == encode_event(first)
    assert rows[0].headers == {name: value.decode() for name, value in event_headers(first)}
    assert rows[0].headers["event_type"] == "contact.decided"
    assert all(r.published_at is None and r.created_at is not None for r in rows)


class Refused(Exception):
    """A service decision that fails after it has staged its changes."""


async def test_a_unit_of_work_that_raises_stores_neither_state_nor_events(db: AsyncEngine, scratch: Scratch) -> None:
    sessions = create_session_factory(db)
    event = decided_event()

    with pytest.raises(Refused):
        async with unit_of_work(sessions, scratch.outbox) as uow:
            await record_handled(uow, scratch, event)
            uow.emit("records", event)
            await uow.flush_outbox()  # even events already written to the outbox go with the rollback
            uow.emit("records", decided_event())
            raise Refused("the decision failed half way")

    assert await handled_ids(db, scratch) == []
    assert await count_rows(db, scratch.outbox) == 0


async def test_the_inbox_claims_an_event_once_per_consumer(db: AsyncEngine, scratch: Scratch) -> None:
    sessions = create_session_factory(db)
    event_id, other_event_id = uuid.uuid4(), uuid.uuid4()

    async with unit_of_work(sessions, scratch.outbox) as uow:
        assert await uow.claim_event(scratch.inbox, "recorder-contacts", event_id) is True
        assert await uow.claim_event(scratch.inbox, "recorder-contacts", event_id) is False  # same transaction

    claims = []
    for consumer, claimed in [
        ("recorder-contacts", event_id),  # a redelivery to the same consumer
        ("auditor-contacts", event_id),  # another consumer of the same event is independent
        ("auditor-contacts", event_id),
        ("recorder-contacts", other_event_id),
    ]:
        async with unit_of_work(sessions, scratch.outbox) as uow:
            claims.append(await uow.claim_event(scratch.inbox, consumer, claimed))
    assert claims == [False, True, False, True]
    assert await count_rows(db, scratch.inbox) == 3


async def test_a_claim_rolled_back_with_its_effects_leaves_the_event_to_handle_again(
    db: AsyncEngine, scratch: Scratch
) -> None:
    sessions = create_session_factory(db)
    event = decided_event()

    with pytest.raises(Refused):
        async with unit_of_work(sessions, scratch.outbox) as uow:
            assert await uow.claim_event(scratch.inbox, "recorder-contacts", event.event_id)
            await record_handled(uow, scratch, event)
            raise Refused("handler failed")

    async with unit_of_work(sessions, scratch.outbox) as uow:
        assert await uow.claim_event(scratch.inbox, "recorder-contacts", event.event_id)
        await record_handled(uow, scratch, event)
    assert await handled_ids(db, scratch) == [event.event_id]
