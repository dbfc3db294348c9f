"""Reading a contact back: as received, how far it has gone, and the crime references once decided (issue 3)."""

from __future__ import annotations

from typing import Any

import httpx

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import post, problem
from tests.support import contact, eventually

ORDER = ["received", "published", "decided"]


async def test_a_contact_goes_from_received_to_published_to_decided_with_its_crime_references(
    services: Services, keys: Keys
) -> None:
    body = contact()
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text
    contact_id = response.json()["contact_id"]
    seen: list[str] = []

    async def decided() -> dict[str, Any] | None:
        r = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.OFFICER))
        assert r.status_code == 200, r.text
        view: dict[str, Any] = r.json()
        if not seen or seen[-1] != view["status"]:
            seen.append(view["status"])
        return view if view["status"] == "decided" else None

    view = await eventually(decided)
    # The statuses only ever move forward.
    assert seen == sorted(seen, key=ORDER.index), seen
    assert view["outcome"] == "recorded"
    assert view["decided_at"]

    async def recorder_decision() -> httpx.Response | None:
        r = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.OFFICER))
        return r if r.status_code == 200 else None

    decision = (await eventually(recorder_decision)).json()
    assert view["crime_references"] == decision["crime_references"]
    assert len(view["crime_references"]) == 1
    assert view["crime_references"][0].startswith("GMP-")

    # The contact as it was received, and where to follow it.
    assert view["contact_id"] == contact_id
    assert view["force"] == "GMP"
    assert view["contact"]["source"] == body["source"]
    assert view["contact"]["narrative"] == body["narrative"]
    assert view["contact"]["victims"] == body["victims"]
    assert view["links"]["self"] == f"/v1/contacts/{contact_id}"


async def test_a_contact_is_found_by_the_caller_s_own_reference(services: Services, keys: Keys) -> None:
    body = contact(source={"system": "online-form", "reference": f"WEB-{contact()['source']['reference']}"})
    response = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text

    found = await services.intake.get(
        "/v1/contacts",
        params={"source_system": "online-form", "source_reference": body["source"]["reference"]},
        headers=keys.auth(Role.SUPERVISOR),
    )
    assert found.status_code == 200, found.text
    assert found.json()["contact_id"] == response.json()["contact_id"]
    assert found.json()["status"] in ORDER

    # Another system's reference, or a reference nobody sent, finds nothing.
    for system, reference in (("STORM", body["source"]["reference"]), ("online-form", "WEB-NEVER-SENT")):
        missing = await services.intake.get(
            "/v1/contacts",
            params={"source_system": system, "source_reference": reference},
            headers=keys.auth(Role.SUPERVISOR),
        )
        problem(missing, 404)


async def test_finding_needs_both_parts_of_the_reference(services: Services, keys: Keys) -> None:
    response = await services.intake.get(
        "/v1/contacts", params={"source_system": "STORM"}, headers=keys.auth(Role.OFFICER)
    )
    refused = problem(response, 422)
    assert "query.source_reference" in [e["field"] for e in refused["errors"]]


async def test_an_unknown_contact_is_a_404_problem(services: Services, keys: Keys) -> None:
    response = await services.intake.get(
        "/v1/contacts/5f0c2f61-0d6e-4a43-9e55-1b8cfae0c0de", headers=keys.auth(Role.OFFICER)
    )
    refused = problem(response, 404)
    assert refused["instance"] == "/v1/contacts/5f0c2f61-0d6e-4a43-9e55-1b8cfae0c0de"
    malformed = await services.intake.get("/v1/contacts/not-a-uuid", headers=keys.auth(Role.OFFICER))
    assert "path.contact_id" in [e["field"] for e in problem(malformed, 422)["errors"]]
