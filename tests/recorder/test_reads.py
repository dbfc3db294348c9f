"""Reading crime records back: one with its history, lists filtered and paged, only ever your own force's (issue 4)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.recorder.helpers import access_entries, crime, key_id, problem, recorded
from tests.support import contact


def _victim(ref: str, name: str) -> dict[str, object]:
    return {"ref": ref, "kind": "person", "name": name, "date_of_birth": None, "identified": True, "confirmed": True}


def _three_victims() -> dict[str, object]:
    """Three people assaulted in one incident: three crimes (HOCR section D), two 8N and one 105A."""
    return contact(
        victims=[_victim("V1", "Ann Lee"), _victim("V2", "Bob Lee"), _victim("V3", "Cat Lee")],
        offences=[
            {"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None},
            {"victim_ref": "V2", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None},
            {"victim_ref": "V3", "ho_class": "105A", "offender_ref": "S1", "incident_ref": None},
        ],
    )


async def test_a_crime_reads_back_with_its_class_deadline_and_history_starting_with_its_recording(
    services: Services, keys: Keys
) -> None:
    body = contact()
    contact_id, references = await recorded(services, keys, body)
    [crn] = references

    record = await crime(services, keys, crn)

    assert record["crime_reference"] == crn
    assert record["contact_id"] == contact_id
    assert record["force"] == "GMP"
    assert record["victim_ref"] == "V1"
    assert record["offender_ref"] == "S1"
    assert record["ho_class"] == "8N"
    assert record["offence_group"] == "Violence against the person"
    assert record["audit_category"] == "violence"
    assert record["status"] == "recorded"
    assert record["transfer_to"] is None
    assert record["recorded_by"] is None  # the rules recorded it at first contact
    assert record["rules_version"]
    received = datetime.fromisoformat(body["received_at"])
    assert datetime.fromisoformat(record["received_at"]) == received
    assert datetime.fromisoformat(record["recording_deadline"]) == received + timedelta(hours=24)
    assert datetime.fromisoformat(record["recorded_at"]) >= received

    [entry] = record["history"]
    assert entry["event_type"] == "crime.recorded"
    assert entry["by"] is None
    assert entry["detail"]["ho_class"] == "8N"
    assert entry["detail"]["rationale"]


async def test_crime_references_are_readable_and_unique_per_force_and_year(services: Services, keys: Keys) -> None:
    _, references = await recorded(services, keys, _three_victims())

    assert len(set(references)) == 3
    year = datetime.now().year
    for crn in references:
        force, ref_year, number = crn.split("-")
        assert (force, ref_year) == ("GMP", str(year))
        assert len(number) >= 6 and number.isdigit()
    numbers = sorted(int(crn.rsplit("-", 1)[1]) for crn in references)
    assert numbers == list(range(numbers[0], numbers[0] + 3))  # one contact's crimes take consecutive numbers


async def test_crimes_are_listed_by_contact_status_and_class(services: Services, keys: Keys) -> None:
    contact_id, references = await recorded(services, keys, _three_victims())
    headers = keys.auth(Role.OFFICER)

    listed = await services.recorder.get("/v1/crimes", params={"contact_id": contact_id}, headers=headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert sorted(c["crime_reference"] for c in items) == sorted(references)
    assert [c["crime_reference"] for c in items] == sorted(c["crime_reference"] for c in items)  # reference order
    assert {c["victim_ref"]: c["ho_class"] for c in items} == {"V1": "8N", "V2": "8N", "V3": "105A"}

    by_class = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id, "class": "105A"}, headers=headers
    )
    assert [c["victim_ref"] for c in by_class.json()["items"]] == ["V3"]

    live = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id, "status": "recorded", "class": "8N"}, headers=headers
    )
    assert sorted(c["victim_ref"] for c in live.json()["items"]) == ["V1", "V2"]

    cancelled = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id, "status": "cancelled"}, headers=headers
    )
    assert cancelled.json() == {"items": [], "next_after": None}


async def test_a_list_is_paged_with_next_after_until_the_last_page(services: Services, keys: Keys) -> None:
    contact_id, references = await recorded(services, keys, _three_victims())
    headers = keys.auth(Role.SUPERVISOR)

    first = (
        await services.recorder.get("/v1/crimes", params={"contact_id": contact_id, "limit": 2}, headers=headers)
    ).json()
    assert len(first["items"]) == 2
    assert first["next_after"] == first["items"][-1]["crime_reference"]

    second = (
        await services.recorder.get(
            "/v1/crimes",
            params={"contact_id": contact_id, "limit": 2, "after": first["next_after"]},
            headers=headers,
        )
    ).json()
    assert len(second["items"]) == 1
    assert second["next_after"] is None

    seen = [c["crime_reference"] for c in first["items"] + second["items"]]
    assert seen == sorted(references)  # every crime once, in reference order


@pytest.mark.parametrize("limit", [0, 501])
async def test_a_list_limit_outside_1_to_500_is_refused(services: Services, keys: Keys, limit: int) -> None:
    r = await services.recorder.get("/v1/crimes", params={"limit": limit}, headers=keys.auth(Role.OFFICER))
    body = problem(r, 422)
    assert "query.limit" in [e["field"] for e in body["errors"]]


async def test_another_force_cannot_see_a_crime_or_the_decision_it_came_from(services: Services, keys: Keys) -> None:
    contact_id, [crn] = await recorded(services, keys)

    unknown = crn[:-6] + "999999"  # same shape, no such crime
    for role in (Role.OFFICER, Role.FCR, Role.AUDITOR):
        r = await services.recorder.get(f"/v1/crimes/{crn}", headers=keys.auth(role, other=True))
        body = problem(r, 404)
        # Not even acknowledged to exist: the answer is word for word what a crime that does not exist gets.
        nothing = problem(await services.recorder.get(f"/v1/crimes/{unknown}", headers=keys.auth(role)), 404)
        assert body["detail"].replace(crn, "<crn>") == nothing["detail"].replace(unknown, "<crn>")

    decision = await services.recorder.get(
        f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.OFFICER, other=True)
    )
    problem(decision, 404)

    # Listing by the other force's contact id finds nothing in one's own force.
    listed = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id}, headers=keys.auth(Role.OFFICER, other=True)
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


async def test_asking_for_another_force_s_lists_is_forbidden(services: Services, keys: Keys) -> None:
    for path in ("/v1/crimes", "/v1/pending"):
        r = await services.recorder.get(path, params={"force": "MPS"}, headers=keys.auth(Role.OFFICER))
        body = problem(r, 403)
        assert "GMP" in body["detail"]
        # Naming one's own force is fine.
        own = await services.recorder.get(path, params={"force": "GMP", "limit": 1}, headers=keys.auth(Role.OFFICER))
        assert own.status_code == 200, own.text


async def test_auditors_read_crimes_lists_decisions_and_the_pending_queue(services: Services, keys: Keys) -> None:
    contact_id, [crn] = await recorded(services, keys)
    auditor = keys.auth(Role.AUDITOR)

    assert (await crime(services, keys, crn, Role.AUDITOR))["crime_reference"] == crn
    listed = await services.recorder.get("/v1/crimes", params={"contact_id": contact_id}, headers=auditor)
    assert [c["crime_reference"] for c in listed.json()["items"]] == [crn]
    decision = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=auditor)
    assert decision.status_code == 200, decision.text
    assert decision.json()["crime_references"] == [crn]
    assert (await services.recorder.get("/v1/pending", headers=auditor)).status_code == 200


@pytest.mark.parametrize(
    "bad",
    ["not-a-crn", "gmp-2026-000001", "GMP-26-000001", "GMP-2026-12", "GMP_2026_000001", "GMPXYZ-2026-000001"],
)
async def test_a_malformed_crime_reference_is_refused_as_such(services: Services, keys: Keys, bad: str) -> None:
    r = await services.recorder.get(f"/v1/crimes/{bad}", headers=keys.auth(Role.OFFICER))
    body = problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["path.crime_reference"]


async def test_a_well_formed_reference_that_does_not_exist_is_not_found(services: Services, keys: Keys) -> None:
    r = await services.recorder.get("/v1/crimes/GMP-1999-000001", headers=keys.auth(Role.OFFICER))
    body = problem(r, 404)
    assert "GMP-1999-000001" in body["detail"]


async def test_reads_need_a_credential(services: Services, keys: Keys) -> None:
    _, [crn] = await recorded(services, keys)
    for path in (f"/v1/crimes/{crn}", "/v1/crimes", "/v1/pending"):
        problem(await services.recorder.get(path), 401)
        problem(await services.recorder.get(path, headers={"Authorization": "Bearer crk_nope_nope"}), 401)


async def test_reading_a_crime_is_logged_as_a_consultation_by_whoever_read_it(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    _, [crn] = await recorded(services, keys)
    auditor = keys.auth(Role.AUDITOR)

    await crime(services, keys, crn, Role.AUDITOR)

    entries = [e for e in await access_entries(db, crn) if e.access == "consultation"]
    assert [(e.principal, e.subject_type, e.force) for e in entries] == [(key_id(auditor), "crime", "GMP")]
    assert entries[0].roles == ["auditor"]
