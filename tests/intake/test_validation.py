"""A bad request is refused with problem+json naming each offending field and why, and nothing is stored (issue 3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.contacts import MAX_NARRATIVE, MAX_VICTIMS
from schemas.events import Role
from tests.conftest import Keys, Services
from tests.intake.helpers import contacts_for_source, error_fields, error_for, new_key, post, problem, stored
from tests.support import contact


def _victim(ref: str) -> dict[str, Any]:
    return {"ref": ref, "kind": "person", "name": None, "date_of_birth": None, "identified": True, "confirmed": True}


def _future(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _with(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


# (case, how to spoil a valid contact, the field the problem must name, words the message must contain)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown top-level field", _with(("colour",), "red"), "body.colour", "not permitted"),
    ("unknown nested field", _with(("victims", 0, "nickname"), "Dee"), "body.victims.0.nickname", "not permitted"),
    ("unknown field in source", _with(("source", "priority"), 1), "body.source.priority", "not permitted"),
    ("naive received_at", _with(("received_at",), "2026-11-02T21:14:00"), "body.received_at", "timezone"),
    ("naive occurred_from", _with(("occurred_from",), "2026-11-02T20:40:00"), "body.occurred_from", "timezone"),
    ("received_at beyond the skew", _with(("received_at",), _future(3600)), "body.received_at", "future"),
    ("occurred_to in the future", _with(("occurred_to",), _future(86_400)), "body.occurred_to", "future"),
    ("narrative too long", _with(("narrative",), "x" * (MAX_NARRATIVE + 1)), "body.narrative", "at most"),
    ("too many victims", _with(("victims",), [_victim(f"V{i}") for i in range(MAX_VICTIMS + 1)]), "body.victims", ""),
    ("source reference too long", _with(("source", "reference"), "R" * 101), "body.source.reference", "at most"),
    ("unknown force", _with(("force",), "XYZ"), "body.force", "not a force"),
    ("malformed force", _with(("force",), "gmp"), "body.force", "pattern"),
    ("unknown force area", _with(("location", "force_area"), "XYZ"), "body.location.force_area", "not a force"),
    ("unknown channel", _with(("channel",), "pigeon"), "body.channel", ""),
    ("repeated qualifier", _with(("incident", "qualifiers"), ["hate", "hate"]), "body.incident.qualifiers", "once"),
    (
        "legacy outcome-only class",
        _with(("offences", 0, "ho_class"), "28A"),
        "body.offences.0.ho_class",
        "only for outcomes of old records",
    ),
    ("fraud class", _with(("offences", 0, "ho_class"), "51"), "body.offences.0.ho_class", "Action Fraud"),
    ("unknown class", _with(("offences", 0, "ho_class"), "9999"), "body.offences.0.ho_class", "not a notifiable"),
    ("malformed class", _with(("offences", 0, "ho_class"), "assault"), "body.offences.0.ho_class", "pattern"),
    ("missing reporter", lambda body: body.pop("reporter"), "body.reporter", "required"),
]


@pytest.mark.parametrize(("spoil", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_bad_contact_is_refused_naming_the_field(
    services: Services,
    keys: Keys,
    db: AsyncEngine,
    spoil: Callable[[dict[str, Any]], None],
    field: str,
    words: str,
) -> None:
    body = contact()
    spoil(body)
    key = new_key()
    before = await stored(db)
    refused = problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key), 422)
    assert field in error_fields(refused), refused
    assert words.lower() in error_for(refused, field).lower()
    assert field in refused["detail"]
    assert await stored(db) == before
    assert await contacts_for_source(db, body["source"]["reference"]) == []


async def test_a_received_at_within_the_clock_skew_is_accepted(services: Services, keys: Keys) -> None:
    response = await post(services.intake, contact(received_at=_future(60)), auth=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 201, response.text


async def test_every_offending_field_is_named_at_once(services: Services, keys: Keys, db: AsyncEngine) -> None:
    body = contact(
        offences=[
            {"victim_ref": "V1", "ho_class": "28A"},
            {"victim_ref": "V1", "ho_class": "8N"},
            {"victim_ref": "V1", "ho_class": "52"},
        ],
        location={"force_area": "XYZ"},
        received_at=_future(3600),
    )
    before = await stored(db)
    refused = problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert sorted(error_fields(refused)) == sorted(
        ["body.offences.0.ho_class", "body.offences.2.ho_class", "body.location.force_area", "body.received_at"]
    )
    assert await stored(db) == before


# Rules that concern more than one field: the message names the field, and nothing is stored.
CROSS_FIELD: list[tuple[str, dict[str, Any], str]] = [
    (
        "victim_ref that names no victim",
        {"offences": [{"victim_ref": "V9", "ho_class": "8N"}]},
        "offences[0].victim_ref",
    ),
    ("repeated victim ref", {"victims": [_victim("V1"), _victim("V1")]}, "victims"),
    (
        "occurred_to before occurred_from",
        {"occurred_from": "2026-11-02T20:40:00Z", "occurred_to": "2026-11-02T20:00:00Z"},
        "occurred_to",
    ),
]


@pytest.mark.parametrize(("changes", "named"), [c[1:] for c in CROSS_FIELD], ids=[c[0] for c in CROSS_FIELD])
async def test_a_contact_whose_fields_disagree_is_refused(
    services: Services, keys: Keys, db: AsyncEngine, changes: dict[str, Any], named: str
) -> None:
    body = contact(**changes)
    before = await stored(db)
    refused = problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert refused["errors"], refused
    assert any(e["field"].startswith("body." + named.split("[")[0]) for e in refused["errors"]), refused
    assert await stored(db) == before


FIELD_OF_CROSS_FIELD = [
    ("victim_ref that names no victim", CROSS_FIELD[0][1], "body.offences.0.victim_ref"),
    ("repeated victim ref", CROSS_FIELD[1][1], "body.victims.1.ref"),
    ("occurred_to before occurred_from", CROSS_FIELD[2][1], "body.occurred_to"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [c[1:] for c in FIELD_OF_CROSS_FIELD], ids=[c[0] for c in FIELD_OF_CROSS_FIELD]
)
async def test_a_cross_field_error_names_the_offending_field_in_errors(
    services: Services, keys: Keys, changes: dict[str, Any], field: str
) -> None:
    refused = problem(await post(services.intake, contact(**changes), auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert field in error_fields(refused), refused["errors"]


async def test_malformed_json_is_refused_as_a_problem(services: Services, keys: Keys, db: AsyncEngine) -> None:
    before = await stored(db)
    for text in ('{"force": "GMP", ', "not json", "[1, 2, 3]", ""):
        response = await services.intake.post(
            "/v1/contacts",
            content=text.encode(),
            headers=keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": new_key(), "Content-Type": "application/json"},
        )
        refused = problem(response, 422)
        assert refused["errors"], refused
        assert all(field.startswith("body") for field in error_fields(refused)), refused
    assert await stored(db) == before


def _oversized() -> bytes:
    body = contact(narrative="x" * 9_000)
    body["victims"] = [_victim(f"V{i}") | {"name": "n" * 200} for i in range(40)]
    body["padding"] = "p" * (300 * 1024)
    return json.dumps(body).encode()


async def test_a_body_over_the_size_limit_is_refused_with_413(services: Services, keys: Keys, db: AsyncEngine) -> None:
    payload = _oversized()
    assert len(payload) > 256 * 1024
    before = await stored(db)
    headers = keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
    refused = problem(await services.intake.post("/v1/contacts", content=payload, headers=headers), 413)
    assert str(256 * 1024) in refused["detail"]
    assert await stored(db) == before


async def test_a_chunked_body_over_the_size_limit_is_refused_with_413(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    payload = _oversized()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 16 * 1024):
            yield payload[start : start + 16 * 1024]

    before = await stored(db)
    headers = keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
    request = services.intake.build_request("POST", "/v1/contacts", content=chunks(), headers=headers)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    problem(await services.intake.send(request), 413)
    assert await stored(db) == before


async def test_a_chunked_body_under_the_limit_is_accepted(services: Services, keys: Keys) -> None:
    payload = json.dumps(contact()).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 100):
            yield payload[start : start + 100]

    headers = keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
    response = await services.intake.send(
        services.intake.build_request("POST", "/v1/contacts", content=chunks(), headers=headers)
    )
    assert response.status_code == 201, response.text


# A timestamp must say when, in which timezone; a boolean must be a boolean (the schema says so too).
WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("received_at as Unix seconds", {"received_at": 1_700_000_000}, "body.received_at"),
    ("received_at as a numeric string", {"received_at": "1700000000"}, "body.received_at"),
    ("occurred_from as 0", {"occurred_from": 0}, "body.occurred_from"),
    ("identified as 'yes'", {"victims": [_victim("V1") | {"identified": "yes"}]}, "body.victims.0.identified"),
    ("confirmed as 1", {"victims": [_victim("V1") | {"confirmed": 1}]}, "body.victims.0.confirmed"),
    ("date_of_birth as 0", {"victims": [_victim("V1") | {"date_of_birth": 0}]}, "body.victims.0.date_of_birth"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES])
async def test_a_value_of_the_wrong_type_is_refused(
    services: Services, keys: Keys, db: AsyncEngine, changes: dict[str, Any], field: str
) -> None:
    body = contact(**changes)
    refused = problem(await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert field in error_fields(refused)
    assert await contacts_for_source(db, body["source"]["reference"]) == []


NUL = "\u0000"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"narrative": f"before{NUL}after"}, "body.narrative"),
        ({"source": {"system": "STORM", "reference": f"INC{NUL}1"}}, "body.source.reference"),
    ],
    ids=["narrative", "source reference"],
)
async def test_a_nul_character_is_refused_not_a_500(
    services: Services, keys: Keys, changes: dict[str, Any], field: str
) -> None:
    refused = problem(await post(services.intake, contact(**changes), auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert field in error_fields(refused)


async def test_a_nul_character_in_a_reference_looked_up_is_refused_not_a_500(services: Services, keys: Keys) -> None:
    response = await services.intake.get(
        "/v1/contacts",
        params={"source_system": "STORM", "source_reference": f"INC{NUL}1"},
        headers=keys.auth(Role.OFFICER),
    )
    assert response.status_code in (404, 422), response.text


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
async def test_a_timestamp_beyond_the_calendar_is_refused_not_a_500(
    services: Services, keys: Keys, moment: str
) -> None:
    refused = problem(await post(services.intake, contact(received_at=moment), auth=keys.auth(Role.CALL_HANDLER)), 422)
    assert "body.received_at" in error_fields(refused)
