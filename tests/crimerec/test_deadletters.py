"""Dead letters: a poison message on a topic is listed with its reason and origin, and a replay after a fix puts
dead letters back on their topic, where the consumers handle them; each dead letter is replayed once."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec.deadletters import DeadLetter, list_dead_letters, replay_dead_letters
from schemas import topics
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key


async def _send(engines: EngineSettings, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    producer = AIOKafkaProducer(bootstrap_servers=engines.kafka_bootstrap)
    await producer.start()
    try:
        return await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _a_new_contact_event(services: Services, keys: Keys, db: AsyncEngine) -> tuple[uuid.UUID, bytes]:
    """A valid contact.received event the recorder has never seen: one intake published, given new ids."""
    posted = await services.intake.post(
        "/v1/contacts", json=contact(), headers=keys.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    assert posted.status_code == 201, posted.text
    async with db.connect() as conn:
        value = (
            await conn.execute(
                text("SELECT value FROM intake.outbox WHERE convert_from(value, 'UTF8')::jsonb->>'contact_id' = :id"),
                {"id": posted.json()["contact_id"]},
            )
        ).scalar_one()
    event = json.loads(value)
    new_id = uuid.uuid4()
    event["event_id"], event["contact_id"] = str(uuid.uuid4()), str(new_id)
    event["payload"]["contact_id"] = str(new_id)
    event["payload"]["contact"]["source"]["reference"] = f"DLQ-{new_id.hex[:12]}"
    return new_id, json.dumps(event).encode()


async def test_a_poison_message_is_listed_and_replayed_and_a_fixed_dead_letter_is_handled_once(
    engines: EngineSettings, services: Services, keys: Keys, db: AsyncEngine
) -> None:
    """Poison on the contacts topic: listed (reason, source topic, partition, offset) for each consumer that met it.
    A dead letter the fix lets through: replayed to its topic, recorded by the recorder, never replayed again."""
    contacts = engines.topic(topics.CONTACTS)
    poison = await _send(engines, contacts, b"\x00this is not an event", b"poison-" + uuid.uuid4().bytes, [])

    async def poison_listed() -> list[DeadLetter]:
        letters = await list_dead_letters(engines)
        return [
            d
            for d in letters
            if (d.source_topic, d.source_partition, d.source_offset) == (contacts, poison.partition, poison.offset)
        ]

    listed = await eventually(poison_listed, within=60)
    assert {d.consumer for d in listed} <= {"recorder.contacts", "auditor.projection"}
    for letter in listed:
        assert letter.dlq_topic == topics.dead_letter(contacts)
        assert letter.error_type == "PoisonEvent"
        assert "Invalid JSON" in letter.reason
        assert letter.value == b"\x00this is not an event"

    # A contact.received a consumer once refused (before a fix), waiting on the .dlq as a consumer leaves it.
    contact_id, event = await _a_new_contact_event(services, keys, db)
    dlq_headers = [
        ("dlq.error", b"a bug the fix removed"),
        ("dlq.error_type", b"RuntimeError"),
        ("dlq.consumer", b"recorder.contacts"),
        ("dlq.original_topic", contacts.encode()),
        ("dlq.original_partition", b"0"),
        ("dlq.original_offset", b"0"),
        ("dlq.attempts", b"5"),
    ]
    fixed = await _send(engines, topics.dead_letter(contacts), event, str(contact_id).encode(), dlq_headers)

    replayed = await replay_dead_letters(engines, source_topic=contacts)
    where = {(d.dlq_partition, d.dlq_offset) for d in replayed}
    assert (fixed.partition, fixed.offset) in where
    assert {(d.dlq_partition, d.dlq_offset) for d in listed} <= where

    async def recorded() -> bool:
        async with db.connect() as conn:
            sql = "SELECT outcome FROM recorder.decisions WHERE contact_id = :id"
            return (await conn.execute(text(sql), {"id": contact_id})).scalar_one_or_none() == "recorded"

    await eventually(recorded, within=60)

    # The poison is still poison: back on the .dlq, met again after its replay (the replay's offset is newer).
    async def poison_again() -> bool:
        again = [d for d in await list_dead_letters(engines) if d.value == b"\x00this is not an event"]
        return any(d.source_offset is not None and d.source_offset > poison.offset for d in again)

    await eventually(poison_again, within=60)
    # A second replay takes only what arrived since: the fixed letter is not replayed twice.
    second = await replay_dead_letters(engines, source_topic=contacts)
    assert (fixed.partition, fixed.offset) not in {(d.dlq_partition, d.dlq_offset) for d in second}
