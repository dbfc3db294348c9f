"""One contact per call-handling incident: (source.system, source.reference) is unique per force (issue 3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import contacts_for_source, post, problem, stored
from tests.support import contact


async def test_a_second_contact_for_the_same_source_reference_is_refused_naming_the_first(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert first.status_code == 201, first.text
    contact_id = first.json()["contact_id"]
    before = await stored(db)

    # A new key (a new request as far as idempotency goes) for the same incident, even with another account of it.
    again = contact(source=body["source"], narrative="The same incident, typed in again at another desk.")
    refused = problem(await post(services.intake, again, auth=keys.auth(Role.CALL_HANDLER)), 409)
    assert refused["contact_id"] == contact_id
    assert contact_id in refused["detail"]
    assert body["source"]["reference"] in refused["detail"]
    assert refused["links"]["self"] == f"/v1/contacts/{contact_id}"

    assert await stored(db) == before
    assert [str(row.contact_id) for row in await contacts_for_source(db, body["source"]["reference"])] == [contact_id]


async def test_the_same_reference_from_another_system_is_another_contact(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    other_system = contact(source={"system": "ControlWorks", "reference": body["source"]["reference"]})
    second = await post(services.intake, other_system, auth=keys.auth(Role.CALL_HANDLER))
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert len(await contacts_for_source(db, body["source"]["reference"])) == 2


async def test_the_same_reference_in_another_force_is_another_contact(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = contact()
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert first.status_code == 201, first.text
    location = {"description": "Oxford Street", "postcode": None, "force_area": "MPS"}
    theirs = contact(force="MPS", source=body["source"], location=location)
    second = await post(services.intake, theirs, auth=keys.auth(Role.CALL_HANDLER, other=True))
    assert second.status_code == 201, second.text
    assert second.json()["contact_id"] != first.json()["contact_id"]

    assert len(await contacts_for_source(db, body["source"]["reference"], force="GMP")) == 1
    assert len(await contacts_for_source(db, body["source"]["reference"], force="MPS")) == 1
