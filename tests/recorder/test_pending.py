"""The pending-decision work queue, and a person deciding a pending contact (issue 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.recorder.helpers import (
    decided,
    decision_of,
    error_for,
    events,
    key_id,
    payloads,
    pending,
    pending_contact,
    problem,
    recorded,
    types,
)
from tests.support import contact


def _ago(hours: float) -> str:
    return (datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)).isoformat()


def _offence(
    victim: str | None, ho_class: str, offender: str | None = "S1", incident: str | None = None
) -> dict[str, Any]:
    return {"victim_ref": victim, "ho_class": ho_class, "offender_ref": offender, "incident_ref": incident}


def _unconfirmed(ref: str, name: str) -> dict[str, Any]:
    return {"ref": ref, "kind": "person", "name": name, "date_of_birth": None, "identified": True, "confirmed": False}


async def _queue(services: Services, keys: Keys, role: Role = Role.OFFICER) -> list[dict[str, Any]]:
    r = await services.recorder.get("/v1/pending", params={"limit": 500}, headers=keys.auth(role))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _decide(services: Services, contact_id: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await services.recorder.post(f"/v1/contacts/{contact_id}/decision", json=body, headers=headers)


# ------------------------------------------------------------------------------------------------ the queue


async def test_both_readings_of_pending_reach_the_queue_with_what_is_missing(services: Services, keys: Keys) -> None:
    third_party, by_third_party = await pending(services, keys)
    unclassified, no_offence = await pending(services, keys, contact(offences=[], victims=[]))

    for decision in (by_third_party, no_offence):
        assert decision["problems"], decision  # says what a person must decide
        assert decision["rationale"]
        assert decision["decided_by"] is None
        received = datetime.fromisoformat(decision["received_at"])
        assert datetime.fromisoformat(decision["recording_deadline"]) == received + timedelta(hours=24)

    queued = {item["contact_id"] for item in await _queue(services, keys)}
    assert {third_party, unclassified} <= queued


async def test_the_queue_puts_the_oldest_deadline_first(services: Services, keys: Keys) -> None:
    # Submitted newest first, so that the order cannot come from submission order.
    newer, _ = await pending(services, keys, pending_contact(received_at=_ago(19)))
    older, _ = await pending(services, keys, pending_contact(received_at=_ago(21)))

    queue = await _queue(services, keys)
    deadlines = [datetime.fromisoformat(item["recording_deadline"]) for item in queue]
    assert deadlines == sorted(deadlines)
    position = [item["contact_id"] for item in queue]
    assert position.index(older) < position.index(newer)
    assert all(item["outcome"] == "pending" and item["force"] == "GMP" for item in queue)


async def test_the_queue_holds_only_pending_contacts_of_one_s_own_force(services: Services, keys: Keys) -> None:
    mine, _ = await pending(services, keys)
    recorded_id, _ = await recorded(services, keys)

    queued = {item["contact_id"] for item in await _queue(services, keys)}
    assert mine in queued
    assert recorded_id not in queued

    r = await services.recorder.get("/v1/pending", params={"limit": 500}, headers=keys.auth(Role.OFFICER, other=True))
    assert r.status_code == 200, r.text
    assert mine not in {item["contact_id"] for item in r.json()["items"]}


# ------------------------------------------------------------------------------------------------ recording


async def test_an_officer_records_a_pending_contact_as_one_principal_crime_and_the_clock_is_not_reset(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = pending_contact(received_at=_ago(2))
    contact_id, before = await pending(services, keys, body)
    officer = keys.auth(Role.OFFICER)

    # Two offences against the same victim in one incident: one crime, the most serious (HOCR E and F).
    r = await _decide(
        services,
        contact_id,
        {
            "outcome": "recorded",
            "rationale": "Victim confirmed both assaults by phone.",
            "offences": [_offence("V1", "105A"), _offence("V1", "8N")],
        },
        officer,
    )
    assert r.status_code == 200, r.text
    decision = r.json()
    assert decision["outcome"] == "recorded"
    assert decision["decided_by"] == key_id(officer)
    assert decision["rationale"].startswith("Victim confirmed")
    assert decision["problems"] == []
    assert decision["recording_deadline"] == before["recording_deadline"]  # the clock never resets
    [crn] = decision["crime_references"]

    crime = (await services.recorder.get(f"/v1/crimes/{crn}", headers=officer)).json()
    assert crime["ho_class"] == "8N"
    assert crime["victim_ref"] == "V1"
    assert crime["recorded_by"] == key_id(officer)
    assert crime["recording_deadline"] == before["recording_deadline"]
    assert datetime.fromisoformat(crime["received_at"]) == datetime.fromisoformat(body["received_at"])
    assert crime["history"][0]["event_type"] == "crime.recorded"
    assert crime["history"][0]["by"] == key_id(officer)

    sent = await events(db, contact_id)
    assert types(sent)[-2:] == ["crime.recorded", "contact.decided"]
    [recorded_event] = payloads(sent, "crime.recorded")
    assert recorded_event["crime_reference"] == crn
    assert recorded_event["ho_class"] == "8N"
    assert recorded_event["recorded_by"] == {"principal": key_id(officer), "roles": ["officer"], "force": "GMP"}
    decided_event = payloads(sent, "contact.decided")[-1]
    assert decided_event["outcome"] == "recorded"
    assert decided_event["crime_references"] == [crn]
    assert decided_event["decided_by"]["principal"] == key_id(officer)
    assert decided_event["decided_by"]["roles"] == ["officer"]
    assert decided_event["recording_deadline"] == recorded_event["recording_deadline"]
    assert datetime.fromisoformat(decided_event["recording_deadline"]) == datetime.fromisoformat(
        before["recording_deadline"]
    )

    assert contact_id not in {item["contact_id"] for item in await _queue(services, keys)}
    # The decision read back says the same.
    again = await decision_of(services, keys, contact_id)
    assert (again["outcome"], again["crime_references"]) == ("recorded", [crn])


async def test_a_person_s_offences_are_counted_one_crime_per_victim(services: Services, keys: Keys) -> None:
    body = pending_contact(victims=[_unconfirmed("V1", "Ann Lee"), _unconfirmed("V2", "Bob Lee")])
    body["offences"] = [_offence("V1", "8N"), _offence("V2", "105A")]
    contact_id, _ = await pending(services, keys, body)

    r = await _decide(
        services,
        contact_id,
        {
            "outcome": "recorded",
            "rationale": "Both confirmed.",
            "offences": [_offence("V1", "8N"), _offence("V2", "105A"), _offence("V2", "105A", incident="later")],
        },
        keys.auth(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text
    references = r.json()["crime_references"]
    assert len(references) == 3  # V1; V2; V2 again in a separate incident (HOCR D, E)
    listed = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id}, headers=keys.auth(Role.OFFICER)
    )
    crimes = sorted((c["victim_ref"], c["ho_class"], c["incident_ref"] or "") for c in listed.json()["items"])
    assert crimes == [("V1", "8N", ""), ("V2", "105A", ""), ("V2", "105A", "later")]


async def test_a_contact_with_no_offence_classified_is_recorded_once_a_person_classifies_it(
    services: Services, keys: Keys
) -> None:
    contact_id, _ = await pending(services, keys, contact(offences=[]))
    r = await _decide(
        services,
        contact_id,
        {"outcome": "recorded", "rationale": "Classified after call-back.", "offences": [_offence("V1", "58A")]},
        keys.auth(Role.OFFICER),
    )
    assert r.status_code == 200, r.text
    [crn] = r.json()["crime_references"]
    assert crn.startswith("GMP-")


# ------------------------------------------------------------------------------------------------ other outcomes


async def test_a_cri_needs_the_credible_evidence_and_nothing_changes_without_it(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    contact_id, _ = await pending(services, keys)
    officer = keys.auth(Role.OFFICER)
    before = len(await events(db, contact_id))

    for missing in ({}, {"credible_evidence": "   "}):
        r = await _decide(
            services, contact_id, {"outcome": "cri", "rationale": "Spoke to the victim."} | missing, officer
        )
        body = problem(r, 422)
        assert "credible evidence" in body["detail"]
        error_for(body, "body.credible_evidence")
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"
    assert len(await events(db, contact_id)) == before

    r = await _decide(
        services,
        contact_id,
        {"outcome": "cri", "rationale": "Spoke to the victim.", "credible_evidence": "CCTV shows no contact."},
        officer,
    )
    assert r.status_code == 200, r.text
    decision = r.json()
    assert decision["outcome"] == "cri"
    assert "CCTV shows no contact." in decision["rationale"]
    assert decision["crime_references"] == []
    decided_event = payloads(await events(db, contact_id), "contact.decided")[-1]
    assert decided_event["outcome"] == "cri"
    assert "CCTV shows no contact." in decided_event["rationale"]
    assert decided_event["decided_by"]["principal"] == key_id(officer)


async def test_a_non_crime_needs_the_closing_category(services: Services, keys: Keys, db: AsyncEngine) -> None:
    contact_id, _ = await pending(services, keys, contact(offences=[], victims=[]))
    officer = keys.auth(Role.OFFICER)

    r = await _decide(services, contact_id, {"outcome": "non_crime", "rationale": "A noise complaint."}, officer)
    body = problem(r, 422)
    error_for(body, "body.closing_category")
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"

    r = await _decide(
        services,
        contact_id,
        {"outcome": "non_crime", "rationale": "A noise complaint.", "closing_category": "asb"},
        officer,
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "non_crime"
    assert "asb" in r.json()["rationale"]
    assert payloads(await events(db, contact_id), "contact.decided")[-1]["outcome"] == "non_crime"


async def test_a_reported_rape_closed_by_a_person_without_recording_keeps_one_n100(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    body = pending_contact()
    body["offences"] = [_offence("V1", "19C")]
    contact_id, _ = await pending(services, keys, body)
    fcr = keys.auth(Role.FCR)

    r = await _decide(services, contact_id, {"outcome": "n100", "rationale": "Victim will not engage."}, fcr)
    assert r.status_code == 200, r.text
    assert (r.json()["outcome"], r.json()["n100"]) == ("n100", True)
    sent = await events(db, contact_id)
    [n100] = payloads(sent, "n100.recorded")  # one N100, whether the rules or the person made it
    assert n100["reported_class"] == "19C"
    assert payloads(sent, "contact.decided")[-1]["outcome"] == "n100"


async def test_a_contact_cannot_be_decided_as_pending_again(services: Services, keys: Keys) -> None:
    contact_id, _ = await pending(services, keys)
    r = await _decide(services, contact_id, {"outcome": "pending", "rationale": "Later."}, keys.auth(Role.OFFICER))
    body = problem(r, 422)
    assert "body.outcome" in [e["field"] for e in body["errors"]]


# ------------------------------------------------------------------------------------------------ refusals


async def test_a_decided_contact_cannot_be_decided_again(services: Services, keys: Keys, db: AsyncEngine) -> None:
    at_first_contact, _ = await recorded(services, keys)
    by_a_person, _ = await pending(services, keys)
    cri = {"outcome": "cri", "rationale": "Checked.", "credible_evidence": "CCTV."}
    assert (await _decide(services, by_a_person, cri, keys.auth(Role.OFFICER))).status_code == 200

    for contact_id in (at_first_contact, by_a_person):
        before = await events(db, contact_id)
        r = await _decide(
            services,
            contact_id,
            {"outcome": "recorded", "rationale": "Again.", "offences": [_offence("V1", "8N")]},
            keys.auth(Role.FCR),
        )
        body = problem(r, 409)
        assert contact_id in body["detail"]
        assert await events(db, contact_id) == before


async def test_an_offence_against_someone_not_in_the_contact_is_refused(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    contact_id, _ = await pending(services, keys)
    before = await events(db, contact_id)

    r = await _decide(
        services,
        contact_id,
        {
            "outcome": "recorded",
            "rationale": "Confirmed.",
            "offences": [_offence("V1", "8N"), _offence("V9", "105A")],
        },
        keys.auth(Role.OFFICER),
    )
    body = problem(r, 422)
    assert "V9" in error_for(body, "body.offences.1.victim_ref")
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"
    assert await events(db, contact_id) == before


async def test_a_class_that_may_not_be_recorded_is_refused_when_a_person_records(
    services: Services, keys: Keys
) -> None:
    contact_id, _ = await pending(services, keys)
    r = await _decide(
        services,
        contact_id,
        {"outcome": "recorded", "rationale": "Confirmed.", "offences": [_offence("V1", "28A")]},  # legacy class
        keys.auth(Role.OFFICER),
    )
    body = problem(r, 422)
    assert any(field.startswith("body.offences") for field in [e["field"] for e in body["errors"]])
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.CALL_HANDLER])
async def test_read_only_roles_cannot_decide(services: Services, keys: Keys, role: Role) -> None:
    contact_id, _ = await pending(services, keys)
    r = await _decide(
        services, contact_id, {"outcome": "cri", "rationale": "x", "credible_evidence": "y"}, keys.auth(role)
    )
    problem(r, 403)
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"


async def test_another_force_cannot_decide_and_is_not_told_the_contact_exists(services: Services, keys: Keys) -> None:
    contact_id, _ = await pending(services, keys)
    r = await _decide(
        services,
        contact_id,
        {"outcome": "cri", "rationale": "x", "credible_evidence": "y"},
        keys.auth(Role.FCR, other=True),
    )
    problem(r, 404)
    assert (await decision_of(services, keys, contact_id))["outcome"] == "pending"


async def test_deciding_a_contact_the_recorder_never_saw_is_not_found(services: Services, keys: Keys) -> None:
    r = await _decide(
        services,
        "00000000-0000-4000-8000-000000000000",
        {"outcome": "cri", "rationale": "x", "credible_evidence": "y"},
        keys.auth(Role.OFFICER),
    )
    problem(r, 404)


# ------------------------------------------------------------------------------------------------ mixed contacts


async def _mixed(services: Services, keys: Keys) -> tuple[str, dict[str, Any]]:
    """A third-party report of two assaults: V1 has confirmed, V2 has not. Skips when the rules hold both."""
    body = pending_contact(victims=[_unconfirmed("V1", "Ann Lee") | {"confirmed": True}, _unconfirmed("V2", "Bob Lee")])
    body["offences"] = [_offence("V1", "8N"), _offence("V2", "8N")]
    contact_id, decision = await decided(services, keys, body)
    assert decision["outcome"] == "pending", decision
    if not decision["crime_references"]:
        pytest.skip("the rules hold every crime of a mixed contact until a person decides")
    return contact_id, decision


async def test_deciding_the_rest_of_a_mixed_contact_does_not_record_a_victim_s_crime_twice(
    services: Services, keys: Keys
) -> None:
    contact_id, decision = await _mixed(services, keys)
    assert len(decision["crime_references"]) == 1  # V1's, recorded at first contact

    # The officer confirms the whole contact, as a person would describe it.
    r = await _decide(
        services,
        contact_id,
        {"outcome": "recorded", "rationale": "V2 confirmed.", "offences": [_offence("V1", "8N"), _offence("V2", "8N")]},
        keys.auth(Role.OFFICER),
    )
    assert r.status_code in (200, 422), r.text
    listed = await services.recorder.get(
        "/v1/crimes", params={"contact_id": contact_id}, headers=keys.auth(Role.OFFICER)
    )
    victims = sorted(c["victim_ref"] for c in listed.json()["items"])
    assert victims.count("V1") == 1, victims


async def test_the_queue_shows_the_crimes_a_mixed_contact_already_has(services: Services, keys: Keys) -> None:
    contact_id, decision = await _mixed(services, keys)
    [item] = [i for i in await _queue(services, keys) if i["contact_id"] == contact_id]
    assert item["crime_references"] == decision["crime_references"]
