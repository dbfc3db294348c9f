"""Concurrent submissions: one contact and one event, whatever the interleaving (issue 3, Tests and measures)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import PROBLEM_JSON, contacts_for_source, events_for, keys_named, new_key, post, stored
from tests.support import contact


async def test_50_concurrent_posts_with_the_same_key_make_one_contact_and_one_event(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body, key = contact(), new_key()
    before = await stored(db)
    responses = await asyncio.gather(
        *(post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key) for _ in range(50))
    )

    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    contact_ids = {r.json()["contact_id"] for r in created}
    assert len(contact_ids) == 1
    [contact_id] = contact_ids
    for response in responses:
        if response.status_code == 201:
            assert response.json() == created[0].json()
        else:
            assert response.status_code == 409, response.text
            assert response.headers["content-type"].startswith(PROBLEM_JSON)
            assert "in flight" in response.json()["title"].lower()

    assert [str(row.contact_id) for row in await contacts_for_source(db, body["source"]["reference"])] == [contact_id]
    assert len(await events_for(db, contact_id)) == 1
    assert len(await keys_named(db, key)) == 1
    after = await stored(db)
    assert (after.contacts, after.keys, after.events) == (before.contacts + 1, before.keys + 1, before.events + 1)

    # Once the dust settles, a retry gets the first response.
    again = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert again.status_code == 201
    assert again.json()["contact_id"] == contact_id


async def test_20_concurrent_posts_of_one_source_reference_make_one_contact(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    before = await stored(db)
    responses = await asyncio.gather(
        *(post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=new_key()) for _ in range(20))
    )

    rows = await contacts_for_source(db, body["source"]["reference"])
    assert len(rows) == 1
    contact_id = str(rows[0].contact_id)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code != 201]
    for response in responses:
        if response.status_code == 201:
            assert response.json()["contact_id"] == contact_id
        else:
            assert response.headers["content-type"].startswith(PROBLEM_JSON)
            assert response.json()["contact_id"] == contact_id
            assert contact_id in response.json()["detail"]
    after = await stored(db)
    assert (after.contacts, after.keys, after.events) == (before.contacts + 1, before.keys + 1, before.events + 1)


async def test_a_repeat_while_the_first_request_is_in_flight_gets_409(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body, key = contact(), new_key()
    client_id = keys.mine[Role.CALL_HANDLER].split("_")[1]
    before = await stored(db)
    # Hold the key the way a first request still being handled holds it (intake's own per-key transaction lock).
    async with db.connect() as conn, conn.begin():
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{client_id}\n{key}"})
        response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert "in flight" in response.json()["title"].lower()
        assert await stored(db) == before
    # Once the first is done, the key is free again.
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert response.status_code == 201, response.text
