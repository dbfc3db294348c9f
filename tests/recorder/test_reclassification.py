"""Changing a recorded crime's Home Office class: audited, never for a crime that is no longer live (issue 4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.recorder.helpers import (
    approve,
    c4,
    crime,
    error_for,
    events,
    key_id,
    one_crime,
    payloads,
    problem,
    recorded,
    request_cancellation,
)
from tests.support import contact


async def _reclassify(services: Services, crn: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await services.recorder.post(f"/v1/crimes/{crn}/reclassification", json=body, headers=headers)


def _change(new_class: str, *, new_information: bool = True, **more: Any) -> dict[str, Any]:
    return {
        "new_class": new_class,
        "reason": "Medical report received.",
        "new_information": new_information,
        "new_information_detail": "A&E notes show a fractured cheekbone." if new_information else None,
    } | more


async def test_a_crime_moves_to_a_new_class_with_a_history_entry_and_an_event(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    crn = await one_crime(services, keys)
    officer = keys.auth(Role.OFFICER)

    r = await _reclassify(services, crn, _change("5D"), officer)

    assert r.status_code == 200, r.text
    record = r.json()
    assert (record["ho_class"], record["audit_category"], record["status"]) == ("5D", "violence", "recorded")
    assert record["offence_group"] == "Violence against the person"
    assert [h["event_type"] for h in record["history"]] == ["crime.recorded", "crime.reclassified"]
    entry = record["history"][-1]
    assert entry["by"] == key_id(officer)
    assert entry["detail"] == {
        "previous_class": "8N",
        "new_class": "5D",
        "reason": "Medical report received.",
        "new_information": True,
    }
    assert (await crime(services, keys, crn))["ho_class"] == "5D"  # stored, not just answered

    [event] = payloads(await events(db, record["contact_id"]), "crime.reclassified")
    assert event["crime_reference"] == crn
    assert (event["previous_class"], event["previous_audit_category"]) == ("8N", "violence")
    assert (event["new_class"], event["new_audit_category"]) == ("5D", "violence")
    assert event["offence_group"] == "Violence against the person"
    assert event["reason"] == "Medical report received."
    assert event["new_information"] is True
    assert event["new_information_detail"] == "A&E notes show a fractured cheekbone."
    assert event["reclassified_by"] == {"principal": key_id(officer), "roles": ["officer"], "force": "GMP"}
    assert event["reclassified_at"]


async def test_a_move_to_another_audit_category_says_both_categories(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    crn = await one_crime(services, keys)
    r = await _reclassify(services, crn, _change("34B", reason="The phone was taken by force."), keys.auth(Role.DDM))
    assert r.status_code == 200, r.text
    assert r.json()["audit_category"] == "robbery"
    [event] = payloads(await events(db, r.json()["contact_id"]), "crime.reclassified")
    assert (event["previous_audit_category"], event["new_audit_category"]) == ("violence", "robbery")


async def test_a_downgrade_without_new_information_is_kept_for_the_auditor(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    crn = await one_crime(services, keys)
    r = await _reclassify(
        services, crn, _change("105A", new_information=False, reason="Injury looked minor."), keys.auth(Role.OFFICER)
    )
    assert r.status_code == 200, r.text
    assert r.json()["ho_class"] == "105A"
    [event] = payloads(await events(db, r.json()["contact_id"]), "crime.reclassified")
    assert (event["previous_class"], event["new_class"], event["new_information"]) == ("8N", "105A", False)
    assert event["new_information_detail"] is None


@pytest.mark.parametrize(
    ("new_class", "says"),
    [
        ("999Z", "not a notifiable offence class"),  # well formed, not in the catalogue
        ("28A", "old records"),  # legacy: kept only for outcomes of old records
        ("53C", "Action Fraud"),  # fraud: recorded nationally, not by forces
        ("8N", "unchanged"),  # the class it already has
    ],
)
async def test_a_class_the_crime_cannot_move_to_is_refused_and_nothing_changes(
    services: Services, keys: Keys, db: AsyncEngine, new_class: str, says: str
) -> None:
    crn = await one_crime(services, keys)
    record = await crime(services, keys, crn)
    before = await events(db, record["contact_id"])

    r = await _reclassify(services, crn, _change(new_class), keys.auth(Role.OFFICER))

    body = problem(r, 422)
    assert says in error_for(body, "body.new_class")
    after = await crime(services, keys, crn)
    assert (after["ho_class"], len(after["history"])) == ("8N", 1)
    assert await events(db, record["contact_id"]) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"new_class": "eight-n"}, "body.new_class"),
        ({"reason": ""}, "body.reason"),
        ({"new_information": None}, "body.new_information"),
        ({"ho_class": "5D"}, "body.ho_class"),  # unknown fields are refused
    ],
)
async def test_a_malformed_reclassification_names_the_field(
    services: Services, keys: Keys, change: dict[str, Any], field: str
) -> None:
    crn = await one_crime(services, keys)
    body = {k: v for k, v in (_change("5D") | change).items() if v is not None}
    r = await _reclassify(services, crn, body, keys.auth(Role.OFFICER))
    assert field in [e["field"] for e in problem(r, 422)["errors"]]


async def test_a_cancelled_crime_cannot_be_reclassified(services: Services, keys: Keys) -> None:
    crn = await one_crime(services, keys)
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER))
    assert (await approve(services, request["request_id"], keys.auth(Role.DDM))).status_code == 200

    r = await _reclassify(services, crn, _change("5D"), keys.auth(Role.OFFICER))

    body = problem(r, 409)
    assert "cancelled" in body["detail"]
    assert (await crime(services, keys, crn))["ho_class"] == "8N"


async def test_a_transferred_crime_cannot_be_reclassified(services: Services, keys: Keys) -> None:
    body = contact()
    body["location"]["force_area"] = "CUM"
    _, [crn] = await recorded(services, keys, body)

    r = await _reclassify(services, crn, _change("5D"), keys.auth(Role.OFFICER))

    assert "transferred" in problem(r, 409)["detail"]


async def test_a_rape_reclassified_to_another_offence_keeps_an_n100(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    crn = await one_crime(services, keys, ho_class="19C")
    contact_id = (await crime(services, keys, crn))["contact_id"]
    assert payloads(await events(db, contact_id), "n100.recorded") == []  # recorded as rape: no N100 yet
    fcr = keys.auth(Role.FCR)

    r = await _reclassify(services, crn, _change("20A", reason="Victim's statement: no penetration."), fcr)

    assert r.status_code == 200, r.text
    assert (r.json()["ho_class"], r.json()["audit_category"]) == ("20A", "other_sexual")
    [n100] = payloads(await events(db, contact_id), "n100.recorded")
    assert n100["contact_id"] == contact_id
    assert n100["crime_reference"] == crn
    assert n100["reported_class"] == "19C"
    assert n100["force"] == "GMP"
    assert "19C" in n100["reason"] and "20A" in n100["reason"]
    assert n100["recorded_by"]["principal"] == key_id(fcr)


async def test_a_rape_reclassified_to_another_rape_class_needs_no_n100(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    crn = await one_crime(services, keys, ho_class="19C")
    r = await _reclassify(services, crn, _change("19D", reason="Victim is 15."), keys.auth(Role.OFFICER))
    assert r.status_code == 200, r.text
    assert payloads(await events(db, r.json()["contact_id"]), "n100.recorded") == []


async def test_only_the_crime_s_own_force_s_changers_may_reclassify(services: Services, keys: Keys) -> None:
    crn = await one_crime(services, keys)
    problem(await _reclassify(services, crn, _change("5D"), keys.auth(Role.AUDITOR)), 403)
    problem(await _reclassify(services, crn, _change("5D"), keys.auth(Role.CALL_HANDLER)), 403)
    problem(await _reclassify(services, crn, _change("5D"), keys.auth(Role.FCR, other=True)), 404)
    problem(await _reclassify(services, "not-a-crn", _change("5D"), keys.auth(Role.OFFICER)), 422)
    assert (await crime(services, keys, crn))["ho_class"] == "8N"
