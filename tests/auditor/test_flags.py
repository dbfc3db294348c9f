"""The auditor's flags through the real pipeline: contacts posted to intake, people acting through the recorder's
API, and what the auditor then says about it (`GET /v1/flags`, `GET /v1/flags/{id}`, `GET /v1/contacts/{id}`).

Everything here happens in one force no other test uses (DYP), so a force-wide listing is exactly these tests'.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from schemas import topics
from schemas.envelope import Envelope
from schemas.events import Role
from services.runtime.offsets import end_offsets
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key

FORCE = "DYP"
AREA = {"description": "outside a bar", "postcode": None, "force_area": FORCE}
CONTACTS: list[str] = []  # every contact this module posted: the replay test replays their events


@dataclass(frozen=True)
class People:
    """DYP keys: one per role, and a second officer and DDM (a requester never authorises their own request)."""

    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def principal(self, who: str) -> str:
        """The principal id the services record for a key: `crk_<key id>_<secret>`."""
        return self.keys[who].split("_", 2)[1]


@pytest.fixture(scope="module")
async def people(engines: EngineSettings) -> People:
    roles = [Role.CALL_HANDLER, Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR]
    first = await stack.issue_keys(engines, force=FORCE, roles=roles, label="auditor-flag-tests")
    second = await stack.issue_keys(engines, force=FORCE, roles=[Role.OFFICER, Role.DDM], label="auditor-flag-tests-2")
    return People(first | {f"{role}2": key for role, key in second.items()})


# ------------------------------------------------------------------------------------------------------ helpers


def dyp_contact(**changes: Any) -> dict[str, Any]:
    """A DYP contact: one identified victim reports an assault with injury, unless changed."""
    return contact(**({"force": FORCE, "location": AREA} | changes))


def received_ago(hours: float) -> dict[str, str]:
    """Changes to a contact received `hours` ago (it happened an hour before that)."""
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    return {
        "received_at": received.isoformat(),
        "occurred_from": (received - timedelta(hours=1)).isoformat(),
        "occurred_to": (received - timedelta(minutes=50)).isoformat(),
    }


def offence(ho_class: str = "8N", victim_ref: str | None = "V1") -> dict[str, Any]:
    return {"victim_ref": victim_ref, "ho_class": ho_class, "offender_ref": "S1", "incident_ref": None}


def person(ref: str, name: str, *, identified: bool = True, confirmed: bool = True) -> dict[str, Any]:
    return {
        "ref": ref,
        "kind": "person",
        "name": name,
        "date_of_birth": None,
        "identified": identified,
        "confirmed": confirmed,
    }


async def submit(services: Services, people: People, body: dict[str, Any]) -> str:
    response = await services.intake.post(
        "/v1/contacts", json=body, headers=people.auth("call_handler") | idempotency_key()
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact_id"]
    CONTACTS.append(contact_id)
    return contact_id


async def decision(services: Services, people: People, contact_id: str) -> dict[str, Any]:
    async def decided() -> dict[str, Any] | None:
        r = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=people.auth("officer"))
        assert r.status_code in (200, 404), r.text
        return r.json() if r.status_code == 200 else None

    return await eventually(decided)


async def one_crime(services: Services, people: People, ho_class: str = "8N", **changes: Any) -> tuple[str, str]:
    """A contact the rules record at once as one crime of `ho_class`: (contact id, crime reference)."""
    contact_id = await submit(services, people, dyp_contact(offences=[offence(ho_class)], **changes))
    decided = await decision(services, people, contact_id)
    assert decided["outcome"] == "recorded" and len(decided["crime_references"]) == 1, decided
    return contact_id, decided["crime_references"][0]


async def pending_contact(services: Services, people: People, **changes: Any) -> str:
    """A contact the rules leave to a person: a neighbour reports an assault the (named) victim has not confirmed."""
    body = dyp_contact(
        reporter={"relationship": "third_party", "name": "a neighbour", "phone": None, "email": None},
        victims=[person("V1", "Sam Reid", confirmed=False)],
        **changes,
    )
    contact_id = await submit(services, people, body)
    decided = await decision(services, people, contact_id)
    assert decided["outcome"] == "pending" and decided["crime_references"] == [], decided
    return contact_id


async def list_flags(services: Services, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await services.auditor.get("/v1/flags", params={"limit": 500} | params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def flags_of(services: Services, people: People, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await list_flags(services, people.auth("auditor"), **params))["items"]
    return items


async def wait_for_flag(services: Services, people: People, rule: str, **params: Any) -> dict[str, Any]:
    """Waits for the one flag of a rule matching the filters."""

    async def raised() -> dict[str, Any] | None:
        found = await flags_of(services, people, rule=rule, **params)
        assert len(found) <= 1, found
        return found[0] if found else None

    return await eventually(raised)


async def audited(
    services: Services, people: People, contact_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The auditor's view of a contact, once it has the report and `ready` says it has seen what the test waits
    for. The report comes on the contacts topic, the decisions on the records topic: a lagging auditor can hold a
    decision before the report, and the rules that need both are judged only once both are in."""

    async def view() -> dict[str, Any] | None:
        r = await services.auditor.get(f"/v1/contacts/{contact_id}", headers=people.auth("auditor"))
        assert r.status_code in (200, 404), r.text
        if r.status_code == 404:
            return None
        body: dict[str, Any] = r.json()
        if body["status"] == "awaiting_report":
            return None
        try:
            return body if ready(body) else None
        except (IndexError, KeyError):  # not everything seen yet
            return None

    return await eventually(view)


async def reclassify(
    services: Services, people: People, crn: str, new_class: str, *, new_information: bool
) -> dict[str, Any]:
    body = {
        "new_class": new_class,
        "reason": "Injuries less than first thought." if new_information else "Reviewed the log.",
        "new_information": new_information,
        "new_information_detail": "Hospital notes: bruising only." if new_information else None,
    }
    r = await services.recorder.post(f"/v1/crimes/{crn}/reclassification", json=body, headers=people.auth("supervisor"))
    assert r.status_code == 200, r.text
    crime: dict[str, Any] = r.json()
    return crime


async def downgraded(services: Services, people: People) -> tuple[str, str, dict[str, Any]]:
    """An 8N crime downgraded to 105A with no new information: (contact id, crime reference, its DOWNGRADE flag)."""
    contact_id, crn = await one_crime(services, people)
    await reclassify(services, people, crn, "105A", new_information=False)
    return contact_id, crn, await wait_for_flag(services, people, "DOWNGRADE", crime_reference=crn)


async def cancel(
    services: Services, people: People, crn: str, *, approver: str, code: str = "C2", **grounds: Any
) -> dict[str, Any]:
    """An officer asks to cancel a crime; `approver` approves. Returns the approved request."""
    body = {
        "code": code,
        "explanation": "CCTV shows the phone was dropped, not taken.",
        "avi": {"description": "CCTV of the whole incident", "held_at": "CCTV ref DYP-7781, exhibit JB/1"},
        "victim_informed": True,
        "victim_informed_at": datetime.now(UTC).isoformat(),
    } | grounds
    r = await services.recorder.post(
        f"/v1/crimes/{crn}/cancellation-requests", json=body, headers=people.auth("officer")
    )
    assert r.status_code == 201, r.text
    request_id = r.json()["request_id"]
    r = await services.recorder.post(
        f"/v1/cancellation-requests/{request_id}/approval", json={"note": "AVI seen."}, headers=people.auth(approver)
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    approved: dict[str, Any] = r.json()
    return approved


# ------------------------------------------------------------------------------------------------------ rules


async def test_a_correct_cancellation_of_violence_is_flagged_for_review_only(
    services: Services, people: People
) -> None:
    contact_id, crn = await one_crime(services, people, "8N")
    request = await cancel(services, people, crn, approver="ddm")

    flag = await wait_for_flag(services, people, "HIGH_RISK_CANCELLATION", crime_reference=crn)
    # The grounds and the authority are right: a review flag, and nothing else about this crime.
    assert [f["rule"] for f in await flags_of(services, people, crime_reference=crn)] == ["HIGH_RISK_CANCELLATION"]
    assert [f["rule"] for f in await flags_of(services, people, contact_id=contact_id)] == ["HIGH_RISK_CANCELLATION"]
    assert flag["severity"] == "medium" and flag["status"] == "open" and flag["audit_category"] == "violence"
    assert (flag["contact_id"], flag["force"]) == (contact_id, FORCE)
    assert crn in flag["explanation"] and "8N" in flag["explanation"] and "C2" in flag["explanation"]
    assert flag["evidence"]["code"] == "C2"
    assert flag["evidence"]["grounds"]["avi"]["held_at"] == "CCTV ref DYP-7781, exhibit JB/1"
    assert flag["evidence"]["authorised_by"]["principal"] == people.principal("ddm")
    assert flag["evidence"]["authorised_by"]["roles"] == ["ddm"]
    assert flag["evidence"]["event_type"] == "crime.cancelled"
    assert datetime.fromisoformat(flag["raised_at"]) == datetime.fromisoformat(request["decided_at"])

    view = await audited(services, people, contact_id, lambda v: v["recorded_crimes"][0]["status"] == "cancelled")
    assert [f["flag_id"] for f in view["flags"]] == [flag["flag_id"]]


async def test_a_downgrade_needs_new_information(services: Services, people: People) -> None:
    contact_id, crn, flag = await downgraded(services, people)
    assert (flag["contact_id"], flag["crime_reference"], flag["audit_category"]) == (contact_id, crn, "violence")
    assert flag["severity"] == "high"
    assert "8N (Assault with injury)" in flag["explanation"] and "105A (Assault without injury)" in flag["explanation"]
    assert flag["evidence"]["previous_class"] == "8N" and flag["evidence"]["new_class"] == "105A"
    assert flag["evidence"]["reclassified_by"]["principal"] == people.principal("supervisor")
    assert flag["evidence"]["reason"] == "Reviewed the log."
    assert flag["evidence"]["event_type"] == "crime.reclassified"

    # With new information, the same downgrade is no breach.
    justified_contact, justified = await one_crime(services, people)
    await reclassify(services, people, justified, "105A", new_information=True)
    await audited(services, people, justified_contact, lambda v: v["recorded_crimes"][0]["ho_class"] == "105A")
    assert await flags_of(services, people, crime_reference=justified) == []

    # Nor is an upgrade, without any.
    upgraded_contact, upgraded = await one_crime(services, people, "105A")
    await reclassify(services, people, upgraded, "8N", new_information=False)
    await audited(services, people, upgraded_contact, lambda v: v["recorded_crimes"][0]["ho_class"] == "8N")
    assert await flags_of(services, people, crime_reference=upgraded) == []


async def test_closing_a_recordable_offence_as_non_crime_is_unjustified(services: Services, people: People) -> None:
    # The victim reports being assaulted, and a friend who is not identified: the victim's own crime is recorded at
    # once, the friend's waits for a person. A person then closes the whole contact as non-crime, with no evidence.
    body = dyp_contact(
        victims=[person("V1", "Dana Holt"), person("V2", "a friend", identified=False, confirmed=False)],
        offences=[offence("8N", "V1"), offence("105A", "V2")],
    )
    contact_id = await submit(services, people, body)
    decided = await decision(services, people, contact_id)
    assert decided["outcome"] == "pending" and len(decided["crime_references"]) == 1, decided
    close = {"outcome": "non_crime", "rationale": "Nothing further to do.", "closing_category": "public_safety"}
    r = await services.recorder.post(f"/v1/contacts/{contact_id}/decision", json=close, headers=people.auth("officer"))
    assert r.status_code == 200, r.text

    flag = await wait_for_flag(services, people, "UNJUSTIFIED_NON_CRIME", contact_id=contact_id)
    assert flag["severity"] == "high" and flag["crime_reference"] is None
    assert "8N" in flag["explanation"] and "non_crime" in flag["explanation"]
    assert flag["evidence"]["outcome"] == "non_crime"
    assert flag["evidence"]["offences"] == ["8N"]  # the unidentified friend's assault is not held against it
    assert flag["evidence"]["decided_by"] == people.principal("officer")
    assert "rationale" not in flag["evidence"]  # the auditor keeps no free text: it may name people


async def test_a_contact_left_pending_is_not_flagged_as_unjustified(services: Services, people: People) -> None:
    contact_id = await pending_contact(services, people)
    await audited(services, people, contact_id, lambda v: v["outcome"] == "pending")
    assert await flags_of(services, people, contact_id=contact_id) == []


async def test_non_crime_for_an_identified_victim_not_yet_confirmed_is_unjustified(
    services: Services, people: People
) -> None:
    contact_id = await pending_contact(services, people)
    close = {"outcome": "non_crime", "rationale": "Could not reach anyone.", "closing_category": "public_safety"}
    r = await services.recorder.post(f"/v1/contacts/{contact_id}/decision", json=close, headers=people.auth("officer"))
    assert r.status_code == 200, r.text
    await audited(services, people, contact_id, lambda v: v["outcome"] == "non_crime")
    assert [f["rule"] for f in await flags_of(services, people, contact_id=contact_id)] == ["UNJUSTIFIED_NON_CRIME"]


async def test_a_missing_record_fires_by_the_wall_clock_and_is_cured_by_the_record(
    services: Services, people: People
) -> None:
    changes = received_ago(25)
    contact_id = await pending_contact(services, people, **changes)
    received = datetime.fromisoformat(changes["received_at"])
    deadline = received + timedelta(hours=24)

    missing = await wait_for_flag(services, people, "MISSING_RECORD", contact_id=contact_id)
    assert datetime.fromisoformat(missing["raised_at"]) == deadline
    assert missing["status"] == "open" and missing["severity"] == "high"
    # Pending, as the recorder decided; or no decision yet, when the sweeper passed the deadline before the
    # auditor had read the recorder's decision (a different topic from the contact).
    assert missing["evidence"]["decision"] in ("pending", "no decision")
    assert missing["evidence"]["recording_deadline"] == deadline.isoformat()

    # A person confirms it with the victim and records it, an hour late.
    record = {"outcome": "recorded", "rationale": "Victim confirmed by phone.", "offences": [offence("8N")]}
    r = await services.recorder.post(f"/v1/contacts/{contact_id}/decision", json=record, headers=people.auth("officer"))
    assert r.status_code == 200, r.text
    (crn,) = r.json()["crime_references"]

    late = await wait_for_flag(services, people, "LATE_RECORD", contact_id=contact_id)
    assert late["crime_reference"] == crn and late["severity"] == "medium"
    cured = (await services.auditor.get(f"/v1/flags/{missing['flag_id']}", headers=people.auth("auditor"))).json()
    assert cured["status"] == "cured"
    assert cured["cured_by"]["event_type"] == "crime.recorded" and cured["cured_by"]["why"] == f"{crn} was recorded"
    assert [h["status"] for h in cured["history"]] == ["open", "cured"]
    view = await audited(services, people, contact_id, lambda v: v["outcome"] == "recorded")
    assert view["status"] == "recorded" and view["recorded_crimes"][0]["on_time"] is False
    assert {f["rule"]: f["status"] for f in view["flags"]} == {"MISSING_RECORD": "cured", "LATE_RECORD": "open"}


# ------------------------------------------------------------------------------------------------------ life of a flag


async def test_a_flag_is_acknowledged_then_resolved_by_named_people(
    services: Services, people: People, keys: Keys
) -> None:
    _, _, flag = await downgraded(services, people)
    url = f"/v1/flags/{flag['flag_id']}"

    r = await services.auditor.post(
        f"{url}/acknowledgement", json={"note": "Looking at it."}, headers=people.auth("supervisor")
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["resolution"] is None
    r = await services.auditor.post(
        f"{url}/resolution",
        json={"resolution": "justified", "note": "The injury was recorded wrongly at first."},
        headers=people.auth("fcr"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["resolution"] == "justified"

    detail = (await services.auditor.get(url, headers=people.auth("auditor"))).json()
    assert [(h["status"], h["by"], h["note"]) for h in detail["history"]] == [
        ("open", None, None),
        ("acknowledged", people.principal("supervisor"), "Looking at it."),
        ("resolved", people.principal("fcr"), "The injury was recorded wrongly at first."),
    ]
    assert [datetime.fromisoformat(h["at"]) for h in detail["history"]] == sorted(
        datetime.fromisoformat(h["at"]) for h in detail["history"]
    )

    # A resolved flag stays resolved.
    again = await services.auditor.post(
        f"{url}/resolution", json={"resolution": "corrected", "note": "again"}, headers=people.auth("fcr")
    )
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "resolved" in again.json()["detail"]
    ack = await services.auditor.post(f"{url}/acknowledgement", json={"note": "late"}, headers=people.auth("ddm"))
    assert ack.status_code == 409, ack.text

    # Another force's people do not even learn it exists; a call handler may not touch flags.
    for method, path, body in (
        ("GET", url, None),
        ("POST", f"{url}/acknowledgement", {"note": "x"}),
        ("POST", f"{url}/resolution", {"resolution": "false_positive", "note": "x"}),
    ):
        other = await services.auditor.request(method, path, json=body, headers=keys.auth(Role.FCR))
        assert other.status_code == 404, (path, other.text)
        denied = await services.auditor.request(method, path, json=body, headers=people.auth("call_handler"))
        assert denied.status_code == 403, (path, denied.text)
    unchanged = (await services.auditor.get(url, headers=people.auth("auditor"))).json()
    assert unchanged["history"] == detail["history"] and unchanged["resolution"] == "justified"


async def test_a_flag_resolution_must_say_how_and_why(services: Services, people: People) -> None:
    _, _, flag = await downgraded(services, people)
    url = f"/v1/flags/{flag['flag_id']}/resolution"
    for body in (
        {"resolution": "fixed", "note": "x"},
        {"resolution": "corrected"},
        {"resolution": "corrected", "note": ""},
        {"resolution": "corrected", "note": "x", "by": "someone else"},
    ):
        r = await services.auditor.post(url, json=body, headers=people.auth("supervisor"))
        assert r.status_code == 422, (body, r.text)
    missing = await services.auditor.post(
        "/v1/flags/999999999/resolution", json={"resolution": "corrected", "note": "x"}, headers=people.auth("fcr")
    )
    assert missing.status_code == 404, missing.text
    detail = (await services.auditor.get(f"/v1/flags/{flag['flag_id']}", headers=people.auth("auditor"))).json()
    assert detail["status"] == "open" and [h["status"] for h in detail["history"]] == ["open"]


# ------------------------------------------------------------------------------------------------------ listing


async def test_flags_are_listed_by_rule_status_severity_contact_crime_and_period(
    services: Services, people: People, keys: Keys
) -> None:
    violence_contact, _, violent = await downgraded(services, people)  # DOWNGRADE, high
    burglary_contact, burglary = await one_crime(services, people, "28E")
    await reclassify(services, people, burglary, "58A", new_information=False)
    damage = await wait_for_flag(services, people, "DOWNGRADE", crime_reference=burglary)  # DOWNGRADE, medium
    robbery_contact, robbery = await one_crime(services, people, "34B")
    await cancel(services, people, robbery, approver="ddm")
    review = await wait_for_flag(services, people, "HIGH_RISK_CANCELLATION", crime_reference=robbery)  # medium
    resolved = await services.auditor.post(
        f"/v1/flags/{damage['flag_id']}/resolution",
        json={"resolution": "false_positive", "note": "Damage only; no entry."},
        headers=people.auth("fcr"),
    )
    assert resolved.status_code == 200, resolved.text
    mine = {violent["flag_id"], damage["flag_id"], review["flag_id"]}
    assert damage["severity"] == "medium" and review["severity"] == "medium" and violent["severity"] == "high"

    async def ids(**params: Any) -> list[int]:
        return [f["flag_id"] for f in await flags_of(services, people, **params)]

    async def mine_of(**params: Any) -> set[int]:
        return set(await ids(**params)) & mine

    assert await ids(rule="DOWNGRADE", contact_id=violence_contact) == [violent["flag_id"]]
    assert await ids(rule="HIGH_RISK_CANCELLATION", contact_id=violence_contact) == []
    assert await ids(crime_reference=robbery) == [review["flag_id"]]
    assert await ids(contact_id=robbery_contact) == [review["flag_id"]]
    assert await ids(contact_id=burglary_contact, status="resolved") == [damage["flag_id"]]
    assert await ids(contact_id=burglary_contact, status="open") == []
    assert await mine_of(status="open") == {violent["flag_id"], review["flag_id"]}
    # Severity is a minimum.
    assert await mine_of(severity="low") == mine
    assert await mine_of(severity="medium") == mine
    assert await mine_of(severity="high") == {violent["flag_id"]}
    assert await mine_of(severity="critical") == set()
    assert all(f["severity"] in ("high", "critical") for f in await flags_of(services, people, severity="high"))

    # The period is by when each flag was raised: from inclusive, to exclusive.
    first = datetime.fromisoformat(violent["raised_at"])
    last = datetime.fromisoformat(review["raised_at"])
    assert first < datetime.fromisoformat(damage["raised_at"]) < last
    after_last = (last + timedelta(microseconds=1)).isoformat()
    assert await mine_of(raised_from=first.isoformat(), raised_to=after_last) == mine
    assert await mine_of(raised_from=first.isoformat(), raised_to=damage["raised_at"]) == {violent["flag_id"]}
    assert await mine_of(raised_from=damage["raised_at"], raised_to=last.isoformat()) == {damage["flag_id"]}
    assert await mine_of(raised_from=after_last) == set()

    # Paged one at a time, oldest first, the pages add up to the whole list.
    window = {"raised_from": first.isoformat(), "raised_to": after_last}
    whole = await ids(**window)
    assert whole == sorted(whole) and mine <= set(whole)
    paged: list[int] = []
    after: int | None = None
    while True:
        page = await list_flags(
            services, people.auth("auditor"), limit=1, **window, **({"after": after} if after else {})
        )
        assert len(page["items"]) <= 1
        paged += [f["flag_id"] for f in page["items"]]
        if page["next_after"] is None:
            break
        assert page["next_after"] == page["items"][-1]["flag_id"]
        after = page["next_after"]
    assert paged == whole
    assert (await list_flags(services, people.auth("auditor"), limit=len(whole), **window))["next_after"] == whole[-1]
    assert (await list_flags(services, people.auth("auditor"), limit=len(whole) + 1, **window))["next_after"] is None

    # Scoped to the caller's force.
    assert (await list_flags(services, people.auth("supervisor"), force=FORCE, contact_id=violence_contact))[
        "items"
    ] != []
    gmp = await list_flags(services, keys.auth(Role.AUDITOR), contact_id=violence_contact)
    assert gmp["items"] == []
    elsewhere = await services.auditor.get("/v1/flags", params={"force": "GMP"}, headers=people.auth("auditor"))
    assert elsewhere.status_code == 403, elsewhere.text
    for bad in ({"severity": "urgent"}, {"rule": "NOT_A_RULE"}, {"status": "closed"}, {"limit": 0}, {"after": -1}):
        r = await services.auditor.get("/v1/flags", params=bad, headers=people.auth("auditor"))
        assert r.status_code == 422, (bad, r.text)
    officer = await services.auditor.get("/v1/flags", headers=people.auth("officer"))
    assert officer.status_code == 403, officer.text


# ------------------------------------------------------------------------------------------------------ alerts


async def test_every_flag_and_its_changes_are_published_on_the_alerts_topic(
    services: Services, people: People, engines: EngineSettings
) -> None:
    contact_id, crn, flag = await downgraded(services, people)
    r = await services.auditor.post(
        f"/v1/flags/{flag['flag_id']}/acknowledgement", json={"note": "On it."}, headers=people.auth("supervisor")
    )
    assert r.status_code == 200, r.text

    consumer = AIOKafkaConsumer(
        engines.topic(topics.ALERTS),
        bootstrap_servers=engines.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, tuple[Envelope, dict[str, bytes]]] = {}
    try:

        async def both_published() -> bool:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    envelope = Envelope.model_validate_json(record.value)
                    if envelope.payload.get("flag_id") == flag["flag_id"]:
                        assert record.key == contact_id.encode()
                        seen[envelope.event_type] = (envelope, dict(record.headers))
            assert set(seen) >= {"flag.raised", "flag.updated"}, set(seen)
            return True

        await eventually(both_published, within=30)
    finally:
        await consumer.stop()

    raised, headers = seen["flag.raised"]
    assert raised.producer == "auditor" and str(raised.contact_id) == contact_id
    assert headers["event_type"] == b"flag.raised" and headers["event_id"] == str(raised.event_id).encode()
    payload = raised.payload
    assert (payload["rule"], payload["severity"], payload["force"], payload["status"]) == (
        "DOWNGRADE",
        "high",
        FORCE,
        "open",
    )
    assert payload["crime_reference"] == crn and payload["explanation"] == flag["explanation"]
    assert payload["evidence"] == flag["evidence"]
    assert raised.causation_id == uuid.UUID(flag["evidence"]["event_id"])  # caused by the reclassification
    updated = seen["flag.updated"][0].payload
    assert updated["status"] == "acknowledged" and updated["note"] == "On it."


# ------------------------------------------------------------------------------------------------------ privacy

SECRETS = {
    "victim name": "Philippa Quenby-Marchbanks",
    "second victim name": "Ignatius Vandersloot",
    "reporter name": "Ottoline Fairweather-Snow",
    "phone": "07700 900461",
    "email": "ottoline.fs@example.org",
    "narrative": "struck with a bottle of Glenmorangie beside the Ffos-y-Fran bus shelter",
    "location": "17 Heronsgate Terrace",
    "postcode": "SA31 9QZ",
    "date of birth": "1961-07-23",
}


async def found_in(db: AsyncEngine, schema: str, secrets: dict[str, str]) -> dict[str, list[str]]:
    """Which secrets appear in any text, JSON or bytes column of a schema: {label: [table.column, ...]}."""
    async with db.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = :schema AND data_type IN "
                    "('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')"
                ),
                {"schema": schema},
            )
        ).all()
        found: dict[str, list[str]] = {}
        for table, column, data_type in columns:
            value = f'"{column}"::text'
            if data_type == "bytea":
                value = (
                    f"convert_from(\"{column}\", 'UTF8')" if column == "value" else f"encode(\"{column}\", 'escape')"
                )
            for label, secret in secrets.items():
                hits = await conn.scalar(
                    text(f'SELECT count(*) FROM {schema}."{table}" WHERE {value} ILIKE :pattern'),
                    {"pattern": f"%{secret}%"},
                )
                if hits:
                    found.setdefault(label, []).append(f"{table}.{column}")
    return found


async def test_the_auditor_keeps_no_names_contact_details_or_narrative(
    services: Services, people: People, db: AsyncEngine
) -> None:
    body = dyp_contact(
        reporter={
            "relationship": "witness",
            "name": SECRETS["reporter name"],
            "phone": SECRETS["phone"],
            "email": SECRETS["email"],
        },
        victims=[
            person("V1", SECRETS["victim name"]) | {"date_of_birth": SECRETS["date of birth"]},
            person("V2", SECRETS["second victim name"]),
        ],
        offences=[offence("8N", "V1"), offence("105A", "V2")],
        location={"description": SECRETS["location"], "postcode": SECRETS["postcode"], "force_area": FORCE},
        narrative=f"Witness saw a man {SECRETS['narrative']} and push a second customer.",
    )
    contact_id = await submit(services, people, body)
    crns = (await decision(services, people, contact_id))["crime_references"]
    assert len(crns) == 2
    await reclassify(services, people, crns[0], "105A", new_information=False)  # so a flag holds evidence too
    await wait_for_flag(services, people, "DOWNGRADE", crime_reference=crns[0])
    # Both topics read: the crimes (records) and what was reported (contacts) arrive in either order.
    view = await audited(
        services, people, contact_id, lambda v: len(v["recorded_crimes"]) == 2 and v["expected_crimes"] is not None
    )
    assert view["expected_crimes"] == 2

    # The search finds them where they are meant to be (intake keeps the contact as received)...
    assert set(await found_in(db, "intake", SECRETS)) >= {
        "victim name",
        "reporter name",
        "phone",
        "narrative",
        "postcode",
    }
    # ...and nowhere in the auditor's tables.
    assert await found_in(db, "auditor", SECRETS) == {}


async def test_the_auditor_keeps_no_names_written_in_the_credible_evidence(
    services: Services, people: People, db: AsyncEngine
) -> None:
    name = "Wilhelmina Throckmorton-Beech"
    body = dyp_contact(
        victims=[person("V1", name)],
        credible_evidence_to_contrary=f"CCTV shows {name} slipped on the ice; nobody touched her.",
    )
    contact_id = await submit(services, people, body)
    assert (await decision(services, people, contact_id))["outcome"] == "cri"
    await audited(services, people, contact_id, lambda v: v["outcome"] == "cri")
    assert "victim name" in await found_in(db, "intake", {"victim name": name})
    assert await found_in(db, "auditor", {"victim name": name}) == {}


# ------------------------------------------------------------------------------------------------------ replay


async def _committed_up_to_end(engines: EngineSettings) -> None:
    """Waits until the auditor's consumer group has committed (so handled) everything now on its topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=engines.kafka_bootstrap, group_id=None)
    await consumer.start()
    await consumer.topics()  # metadata of every topic, so their partitions are known
    admin = AIOKafkaAdminClient(bootstrap_servers=engines.kafka_bootstrap)
    await admin.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (engines.topic(topics.CONTACTS), engines.topic(topics.RECORDS))
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        # Not ListOffsets alone: the embedded broker's undercounts a partition whose last batch holds several.
        ends = {tp: end for tp, end in (await end_offsets(consumer, partitions)).items() if end > 0}

        async def caught_up() -> bool:
            committed = await admin.list_consumer_group_offsets(
                engines.topic_prefix + "auditor.projection", partitions=list(ends)
            )
            behind = {tp: (committed[tp].offset if tp in committed else None, end) for tp, end in ends.items()}
            assert all(at is not None and at >= end for at, end in behind.values()), behind
            return True

        await eventually(caught_up, within=60)
    finally:
        await admin.close()
        await consumer.stop()


async def _republished(db: AsyncEngine, contact_ids: list[str]) -> int:
    """Marks intake's and the recorder's outbox rows about these contacts unpublished; waits till published again."""
    async with db.begin() as conn:
        count = 0
        for schema in ("intake", "recorder"):
            result = await conn.execute(
                text(f"UPDATE {schema}.outbox SET published_at = NULL WHERE key = ANY(:keys)"), {"keys": contact_ids}
            )
            count += result.rowcount or 0

    async def published() -> bool:
        async with db.connect() as conn:
            for schema in ("intake", "recorder"):
                left = await conn.scalar(text(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"))
                assert left == 0, (schema, left)
        return True

    await eventually(published, within=60)
    return count


async def _auditor_state(db: AsyncEngine) -> dict[str, Any]:
    async with db.connect() as conn:
        flags = (await conn.execute(text("SELECT * FROM auditor.flags ORDER BY flag_id"))).mappings().all()
        history = await conn.scalar(text("SELECT count(*) FROM auditor.flag_history"))
        alerts = await conn.scalar(text("SELECT count(*) FROM auditor.alert_stream"))
        outbox = await conn.scalar(text("SELECT count(*) FROM auditor.outbox"))
    return {"flags": [dict(f) for f in flags], "history": history, "alerts": alerts, "outbox": outbox}


async def test_a_replay_raises_nothing_new(
    services: Services, people: People, db: AsyncEngine, engines: EngineSettings
) -> None:
    # Flags of several rules, each raised once.
    await downgraded(services, people)
    _, robbery = await one_crime(services, people, "34B")
    await cancel(services, people, robbery, approver="ddm")
    await wait_for_flag(services, people, "HIGH_RISK_CANCELLATION", crime_reference=robbery)
    _, late_crime = await one_crime(services, people, **received_ago(30))
    await wait_for_flag(services, people, "LATE_RECORD", crime_reference=late_crime)
    missing_contact = await pending_contact(services, people, **received_ago(26))
    await wait_for_flag(services, people, "MISSING_RECORD", contact_id=missing_contact)
    await _committed_up_to_end(engines)
    before = await _auditor_state(db)
    assert {f["rule"] for f in before["flags"] if str(f["contact_id"]) in CONTACTS} >= {
        "DOWNGRADE",
        "HIGH_RISK_CANCELLATION",
        "LATE_RECORD",
        "MISSING_RECORD",
    }
    ours = sorted(set(CONTACTS))

    # Every event about these contacts again: the auditor's inbox knows them, and nothing changes.
    assert await _republished(db, ours) > 0
    await _committed_up_to_end(engines)
    assert await _auditor_state(db) == before

    # An auditor that forgot what it handled (its inbox emptied of these events) reads them all again: each flag is
    # already raised, each cure already made, and no alert goes out twice.
    async with db.begin() as conn:
        event_ids = [
            row.event_id
            for schema in ("intake", "recorder")
            for row in await conn.execute(
                text(f"SELECT event_id FROM {schema}.outbox WHERE key = ANY(:keys)"), {"keys": ours}
            )
        ]
        deleted = await conn.execute(
            text("DELETE FROM auditor.inbox WHERE consumer = 'auditor.projection' AND event_id = ANY(:ids)"),
            {"ids": event_ids},
        )
        assert deleted.rowcount == len(event_ids)
    await _republished(db, ours)
    await _committed_up_to_end(engines)
    async with db.connect() as conn:
        handled = await conn.scalar(
            text("SELECT count(*) FROM auditor.inbox WHERE consumer = 'auditor.projection' AND event_id = ANY(:ids)"),
            {"ids": event_ids},
        )
    assert handled == len(event_ids)
    assert await _auditor_state(db) == before


# ------------------------------------------------------------------------------------------------------ s.62


async def _logged(db: AsyncEngine, principal: str, subject_type: str, subject_id: str) -> list[str]:
    """The kinds of access the auditor's log holds for a principal and a subject."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT access FROM auditor.access_log WHERE principal = :principal AND subject_type = :type "
                "AND subject_id = :id ORDER BY id"
            ),
            {"principal": principal, "type": subject_type, "id": subject_id},
        )
        return [row.access for row in rows]


async def test_consulting_and_changing_flags_is_logged(services: Services, people: People, db: AsyncEngine) -> None:
    contact_id, _, flag = await downgraded(services, people)
    flag_id = str(flag["flag_id"])
    reader = people.principal("auditor")
    assert await _logged(db, reader, "flag", flag_id) == ["consultation"]  # the listing that found it
    await audited(services, people, contact_id, lambda v: bool(v["flags"]))
    assert "consultation" in await _logged(db, reader, "contact", contact_id)
    r = await services.auditor.post(
        f"/v1/flags/{flag_id}/acknowledgement", json={"note": "Seen."}, headers=people.auth("ddm")
    )
    assert r.status_code == 200, r.text
    assert await _logged(db, people.principal("ddm"), "flag", flag_id) == ["alteration"]


async def test_reading_one_flag_is_logged_as_a_consultation(
    services: Services, people: People, db: AsyncEngine
) -> None:
    _, _, flag = await downgraded(services, people)
    flag_id = str(flag["flag_id"])
    r = await services.auditor.get(f"/v1/flags/{flag_id}", headers=people.auth("supervisor"))
    assert r.status_code == 200, r.text
    assert await _logged(db, people.principal("supervisor"), "flag", flag_id) == ["consultation"]
