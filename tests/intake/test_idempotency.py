"""Idempotent intake: every contact accepted once, and a 201 means it is stored (issue 3)."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.intake.helpers import (
    contacts_for_source,
    events_for,
    keys_named,
    new_key,
    post,
    problem,
    stored,
)
from tests.support import contact


async def test_a_post_without_an_idempotency_key_is_refused_and_stores_nothing(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    before = await stored(db)
    for headers in ({}, {"Idempotency-Key": ""}, {"Idempotency-Key": "   "}):
        response = await services.intake.post("/v1/contacts", json=body, headers=keys.auth(Role.CALL_HANDLER) | headers)
        detail = problem(response, 400)
        assert "Idempotency-Key" in detail["title"] + detail.get("detail", "")
    assert await stored(db) == before
    assert await contacts_for_source(db, body["source"]["reference"]) == []


async def test_a_key_of_more_than_255_characters_is_refused(services: Services, keys: Keys, db: AsyncEngine) -> None:
    body = contact()
    before = await stored(db)
    problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key="k" * 256), 400)
    assert await stored(db) == before
    # 255 characters is the documented maximum, and is accepted.
    longest = "k" * 254 + "z"
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=longest)
    assert response.status_code == 201, response.text
    assert [row.contact_id for row in await keys_named(db, longest)] == [
        row.contact_id for row in await contacts_for_source(db, body["source"]["reference"])
    ]


async def test_the_same_key_and_body_returns_the_first_response_and_stores_nothing_new(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body, key = contact(), new_key()
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert first.status_code == 201, first.text
    after_first = await stored(db)

    # A retry, with the body's fields in another order (the same request by meaning).
    reordered = json.loads(json.dumps(dict(reversed(list(body.items())))))
    for retry_body in (body, reordered):
        again = await post(services.intake, retry_body, auth=keys.auth(Role.CALL_HANDLER), key=key)
        assert again.status_code == 201, again.text
        assert again.json() == first.json()

    assert await stored(db) == after_first
    stored_contacts = await contacts_for_source(db, body["source"]["reference"])
    assert [str(row.contact_id) for row in stored_contacts] == [first.json()["contact_id"]]
    assert len(await events_for(db, first.json()["contact_id"])) == 1
    assert len(await keys_named(db, key)) == 1


async def test_the_same_key_with_another_body_is_refused_naming_the_first_contact(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body, key = contact(), new_key()
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert first.status_code == 201, first.text
    before = await stored(db)

    changed = contact(source=body["source"], narrative="Something else entirely.")
    refused = problem(await post(services.intake, changed, auth=keys.auth(Role.CALL_HANDLER), key=key), 422)
    assert refused["contact_id"] == first.json()["contact_id"]
    assert "Idempotency-Key" in refused["title"] + refused.get("detail", "")

    other_source = contact()
    refused = problem(await post(services.intake, other_source, auth=keys.auth(Role.CALL_HANDLER), key=key), 422)
    assert refused["contact_id"] == first.json()["contact_id"]

    assert await stored(db) == before
    assert await contacts_for_source(db, other_source["source"]["reference"]) == []


async def test_keys_are_scoped_to_the_calling_client(
    services: Services, keys: Keys, db: AsyncEngine, engines: EngineSettings
) -> None:
    second_handler = (await stack.issue_keys(engines, force="GMP", roles=[Role.CALL_HANDLER], label="second desk"))[
        Role.CALL_HANDLER.value
    ]
    key = new_key()
    mine, theirs = contact(), contact()

    first = await post(services.intake, mine, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert first.status_code == 201, first.text
    # Another client of the same force may use the same key string, for its own contact.
    other = await post(services.intake, theirs, auth={"Authorization": f"Bearer {second_handler}"}, key=key)
    assert other.status_code == 201, other.text
    assert other.json()["contact_id"] != first.json()["contact_id"]

    records = await keys_named(db, key)
    assert len(records) == 2
    assert len({row.client_id for row in records}) == 2
    assert len(await contacts_for_source(db, theirs["source"]["reference"])) == 1

    # Each client's retry still answers with its own first response.
    again = await post(services.intake, mine, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert again.json() == first.json()


async def test_a_request_that_failed_validation_stores_no_key(services: Services, keys: Keys, db: AsyncEngine) -> None:
    key = new_key()
    body = contact()
    bad = contact(source=body["source"], received_at="2026-11-02T21:14:00")  # no timezone
    before = await stored(db)
    problem(await post(services.intake, bad, auth=keys.auth(Role.CALL_HANDLER), key=key), 422)
    bad_class = contact(source=body["source"], offences=[{"victim_ref": "V1", "ho_class": "28A"}])
    problem(await post(services.intake, bad_class, auth=keys.auth(Role.CALL_HANDLER), key=key), 422)
    assert await stored(db) == before
    assert await keys_named(db, key) == []

    # Corrected, the same key goes through.
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert response.status_code == 201, response.text
    assert [str(row.contact_id) for row in await keys_named(db, key)] == [response.json()["contact_id"]]


async def test_a_201_means_the_contact_its_key_and_its_event_are_stored(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body, key = contact(), new_key()
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert response.status_code == 201, response.text
    accepted = response.json()
    contact_id = accepted["contact_id"]
    assert accepted["status"] == "received"
    assert accepted["links"]["self"] == f"/v1/contacts/{contact_id}"

    # Straight after the response, before anything else happens: all three rows are there.
    [row] = await contacts_for_source(db, body["source"]["reference"])
    assert str(row.contact_id) == contact_id
    assert row.force == "GMP"
    assert row.source_system == "STORM"
    assert row.body["narrative"] == body["narrative"]
    [record] = await keys_named(db, key)
    assert str(record.contact_id) == contact_id
    assert record.status_code == 201
    assert record.response == accepted
    [event] = await events_for(db, contact_id)
    assert event.event_id == row.event_id
    assert event.topic.endswith("contacts")
    envelope = json.loads(event.value)
    assert envelope["event_type"] == "contact.received"
    assert envelope["contact_id"] == contact_id
    assert envelope["payload"]["contact"]["source"] == body["source"]


async def test_every_write_and_read_of_a_contact_is_in_the_access_log(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    from sqlalchemy import select

    from services.intake.models import access_log

    response = await post(services.intake, contact(), auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text
    contact_id = response.json()["contact_id"]
    read = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.OFFICER))
    assert read.status_code == 200, read.text

    async with db.connect() as conn:
        entries = (
            await conn.execute(
                select(access_log).where(access_log.c.subject_id == contact_id).order_by(access_log.c.id)
            )
        ).all()
    assert [(e.access, e.subject_type, e.force) for e in entries] == [
        ("collection", "contact", "GMP"),
        ("consultation", "contact", "GMP"),
    ]
    assert entries[0].roles == ["call_handler"]
    assert entries[1].roles == ["officer"]
    assert all(e.principal and e.at for e in entries)
