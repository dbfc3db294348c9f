"""POST /v1/contacts:batch: up to 1,000 contacts, one result each, idempotent per contact (issue 21)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import contacts_for_source, events_for, new_key, problem, stored
from tests.support import contact

MARKER = "NARRATIVE-MARKER-7f3c"


async def post_batch(client: httpx.AsyncClient, keys: Keys, items: Any, *, role: Role = Role.CALL_HANDLER) -> Any:
    return await client.post("/v1/contacts:batch", json={"contacts": items}, headers=keys.auth(role))


def item(body: dict[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
    return {"idempotency_key": key or new_key(), "contact": body or contact()}


async def test_each_contact_gets_its_own_result_and_refusing_one_refuses_no_other(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    good = [contact() for _ in range(3)]
    unknown_class = contact(
        narrative=f"{MARKER} the caller's account", offences=[{"victim_ref": "V1", "ho_class": "ZZZ"}]
    )
    bad_shape = contact(narrative=f"{MARKER} again", victims="not a list")
    before = await stored(db)
    response = await post_batch(
        services.intake, keys, [item(good[0]), item(unknown_class), item(good[1]), item(bad_shape),
                                item(good[2])],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert MARKER not in response.text  # a refused contact's narrative never comes back
    body = response.json()
    assert [r["index"] for r in body["results"]] == list(range(5))
    assert [r["status"] for r in body["results"]] == [201, 422, 201, 422, 201]
    assert (body["stored"], body["failed"]) == (3, 2)
    fields = [e["field"] for e in body["results"][3]["errors"]]
    assert fields and all(f.startswith("body.contacts.3.contact.victims") for f in fields)
    assert body["results"][1]["errors"][0]["field"].startswith("body.contacts.1.contact.offences")
    after = await stored(db)
    assert (after.contacts - before.contacts, after.keys - before.keys, after.events - before.events) == (3, 3, 3)
    for sent, result in zip(good, [body["results"][i] for i in (0, 2, 4)], strict=True):
        [row] = await contacts_for_source(db, sent["source"]["reference"])
        assert str(row.contact_id) == result["contact_id"]
        assert result["links"]["self"] == f"/v1/contacts/{result['contact_id']}"
        assert len(await events_for(db, result["contact_id"])) == 1  # its contact.received
    for refused in (unknown_class, bad_shape):
        assert await contacts_for_source(db, refused["source"]["reference"]) == []


async def test_a_batch_sent_again_stores_nothing_twice_and_answers_the_same(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    items = [item() for _ in range(5)]
    first = (await post_batch(services.intake, keys, items)).json()
    before = await stored(db)
    # Again, with one more new contact and one key reused with another body.
    reused = {"idempotency_key": items[0]["idempotency_key"], "contact": contact()}
    again = (await post_batch(services.intake, keys, [*items, item(), reused])).json()
    assert [r["status"] for r in again["results"]] == [201] * 6 + [422]
    assert [r["contact_id"] for r in again["results"][:5]] == [r["contact_id"] for r in first["results"]]
    assert again["results"][6]["title"] == "Idempotency-Key reused"
    after = await stored(db)
    assert (after.contacts - before.contacts, after.events - before.events) == (1, 1)


async def test_a_source_reference_or_key_twice_in_one_batch_is_stored_once(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    twin = dict(body, narrative="the same incident, sent twice")
    key = new_key()
    response = await post_batch(services.intake, keys, [item(body), item(twin), item(contact(), key), item(key=key)])
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 409, 201, 409]
    assert results[1]["title"] == "Contact already submitted"
    assert results[1]["contact_id"] == results[0]["contact_id"]
    assert len(await contacts_for_source(db, body["source"]["reference"])) == 1


async def test_what_is_not_a_batch_is_refused_whole_as_a_problem(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    before = await stored(db)
    for items in ([], [item()] * 1001, [{"contact": contact()}], [{**item(), "extra": 1}], "contacts"):
        response = await post_batch(services.intake, keys, items)
        detail = problem(response, 422)
        assert detail["errors"], items if isinstance(items, str) else len(items)
    no_list = await services.intake.post("/v1/contacts:batch", json={}, headers=keys.auth(Role.CALL_HANDLER))
    problem(no_list, 422)
    assert await stored(db) == before


async def test_only_a_call_handler_may_send_a_batch(services: Services, keys: Keys, db: AsyncEngine) -> None:
    before = await stored(db)
    other_force = await post_batch(services.intake, keys, [item(), item(contact(force="WMP"))])
    assert "contacts 1 are not" in problem(other_force, 403)["detail"]
    problem(await post_batch(services.intake, keys, [item()], role=Role.OFFICER), 403)
    unauthenticated = await services.intake.post("/v1/contacts:batch", json={"contacts": [item()]})
    problem(unauthenticated, 401)
    assert await stored(db) == before


async def test_a_full_batch_of_a_thousand_is_stored(services: Services, keys: Keys, db: AsyncEngine) -> None:
    before = await stored(db)
    items = [item() for _ in range(1000)]
    response = await post_batch(services.intake, keys, items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 1000
    assert len({r["contact_id"] for r in body["results"]}) == 1000
    after = await stored(db)
    assert (after.contacts - before.contacts, after.keys - before.keys, after.events - before.events) == (
        1000,
        1000,
        1000,
    )
    assert uuid.UUID(body["results"][999]["contact_id"])
