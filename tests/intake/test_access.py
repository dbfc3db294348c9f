"""Who may post and read contacts: call handlers post for their own force; nobody sees another force's (issue 3)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import contacts_for_source, post, problem, stored
from tests.support import contact


@pytest.fixture(scope="module")
async def gmp_contact(services: Services, keys: Keys) -> dict[str, str]:
    """A GMP contact: its id and source reference."""
    body = contact()
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text
    return {"contact_id": response.json()["contact_id"], "reference": body["source"]["reference"]}


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR, Role.DDM, Role.FCR])
async def test_only_call_handlers_may_post(services: Services, keys: Keys, db: AsyncEngine, role: Role) -> None:
    body = contact()
    before = await stored(db)
    refused = problem(await post(services.intake, body, auth=keys.auth(role)), 403)
    assert "call_handler" in refused["detail"]
    assert await stored(db) == before


async def test_an_admin_may_post(services: Services, keys: Keys, db: AsyncEngine) -> None:
    body = contact()
    response = await post(services.intake, body, auth=keys.auth(Role.ADMIN))
    assert response.status_code == 201, response.text
    assert len(await contacts_for_source(db, body["source"]["reference"])) == 1


async def test_a_call_handler_may_not_post_for_another_force(services: Services, keys: Keys, db: AsyncEngine) -> None:
    location = {"description": "Oxford Street", "postcode": None, "force_area": "MPS"}
    body = contact(force="MPS", location=location)
    before = await stored(db)
    refused = problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER)), 403)
    assert "GMP" in refused["detail"]
    assert await stored(db) == before
    assert await contacts_for_source(db, body["source"]["reference"]) == []


async def test_a_call_handler_may_report_a_crime_that_happened_in_another_force_area(
    services: Services, keys: Keys
) -> None:
    body = contact(location={"description": "on a trip", "postcode": None, "force_area": "MPS"})
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("role", [Role.CALL_HANDLER, Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
async def test_the_force_s_staff_may_read_its_contacts(
    services: Services, keys: Keys, gmp_contact: dict[str, str], role: Role
) -> None:
    contact_id = gmp_contact["contact_id"]
    response = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(role))
    assert response.status_code == 200, response.text
    assert response.json()["contact_id"] == contact_id
    found = await services.intake.get(
        "/v1/contacts",
        params={"source_system": "STORM", "source_reference": gmp_contact["reference"]},
        headers=keys.auth(role),
    )
    assert found.status_code == 200, found.text
    assert found.json()["contact_id"] == contact_id


@pytest.mark.parametrize("role", [Role.CALL_HANDLER, Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
async def test_another_force_gets_404_for_a_contact(
    services: Services, keys: Keys, gmp_contact: dict[str, str], role: Role
) -> None:
    contact_id = gmp_contact["contact_id"]
    theirs = problem(await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(role, other=True)), 404)
    assert gmp_contact["reference"] not in str(theirs)
    assert "STORM" not in str(theirs)

    found = await services.intake.get(
        "/v1/contacts",
        params={"source_system": "STORM", "source_reference": gmp_contact["reference"]},
        headers=keys.auth(role, other=True),
    )
    problem(found, 404)
    assert contact_id not in found.text


async def test_another_force_s_contact_looks_exactly_like_one_that_does_not_exist(
    services: Services, keys: Keys, gmp_contact: dict[str, str]
) -> None:
    contact_id, unknown = gmp_contact["contact_id"], "00000000-0000-4000-8000-000000000000"
    theirs = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.OFFICER, other=True))
    nowhere = await services.intake.get(f"/v1/contacts/{unknown}", headers=keys.auth(Role.OFFICER, other=True))
    assert (theirs.status_code, nowhere.status_code) == (404, 404)
    assert theirs.text.replace(contact_id, "ID") == nowhere.text.replace(unknown, "ID")


async def test_without_a_credential_nothing_is_answered(
    services: Services, db: AsyncEngine, gmp_contact: dict[str, str]
) -> None:
    before = await stored(db)
    bad_keys: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer crk_0000000000000000_notasecret"},
        {"Authorization": "Bearer not-a-key"},
    ]
    for auth in bad_keys:
        posted = problem(await post(services.intake, contact(), auth=auth), 401)
        assert posted["detail"]
        read = await services.intake.get(f"/v1/contacts/{gmp_contact['contact_id']}", headers=auth)
        problem(read, 401)
        assert read.headers["www-authenticate"] == "Bearer"
        found = await services.intake.get(
            "/v1/contacts",
            params={"source_system": "STORM", "source_reference": gmp_contact["reference"]},
            headers=auth,
        )
        problem(found, 401)
    assert await stored(db) == before
