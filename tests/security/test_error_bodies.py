"""Refusals of bad input are problem+json, name what is wrong, and never echo the victim's account back (issue 22,
Input limits).

An error body travels further than the request did: into the caller's logs, a browser, a support ticket. So a 4xx
says which field and why, and never repeats the narrative, a victim's name or the credible evidence it was given.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from schemas.contacts import MAX_NARRATIVE
from schemas.events import Role
from tests.conftest import Keys, Services
from tests.support import contact, idempotency_key

PROBLEM_JSON = "application/problem+json"


def marker(what: str) -> str:
    """A string that can only have come from this request."""
    return f"{what}{uuid.uuid4().hex}"


def assert_problem(response: httpx.Response, status: int, *secrets: str) -> dict[str, Any]:
    """A problem+json refusal with this status that repeats none of the secrets; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"], body
    for secret in secrets:
        assert secret[:40] not in response.text, f"the refusal echoes what was sent: {response.text[:500]}"
        for name, value in response.headers.items():
            assert secret[:40] not in value, f"header {name} echoes what was sent"
    return body


def fields(body: dict[str, Any]) -> list[str]:
    """The fields a problem names."""
    return [e["field"] for e in body.get("errors") or []]


async def post_contact(services: Services, keys: Keys, body: Any, **kwargs: Any) -> httpx.Response:
    headers = keys.auth(Role.CALL_HANDLER) | idempotency_key() | kwargs.pop("headers", {})
    if "content" in kwargs:
        return await services.intake.post("/v1/contacts", headers=headers, **kwargs)
    return await services.intake.post("/v1/contacts", json=body, headers=headers, **kwargs)


def marked() -> tuple[dict[str, Any], str, str]:
    """A valid contact whose narrative and victim name are markers: (body, narrative, victim name)."""
    narrative, victim = marker("Narrative"), marker("Victim")
    body = contact(narrative=narrative)
    body["victims"][0]["name"] = victim
    return body, narrative, victim


# ------------------------------------------------------------------------------------------------ intake


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b, n: b | {"narrative": n + "x" * MAX_NARRATIVE}, "body.narrative"),
        (lambda b, n: b | {"victims": [b["victims"][0] | {"name": n + "x" * 200}]}, "body.victims.0.name"),
        (lambda b, n: b | {"location": b["location"] | {"description": n + "x" * 500}}, "body.location.description"),
        (lambda b, n: b | {"channel": n}, "body.channel"),
        (lambda b, n: b | {"received_at": n}, "body.received_at"),
        (lambda b, n: b | {"victims": n}, "body.victims"),
        (lambda b, n: b | {"narrative": {"text": n}}, "body.narrative"),
        (lambda b, n: b | {"victims": [b["victims"][0] | {"date_of_birth": n}]}, "body.victims.0.date_of_birth"),
        (lambda b, n: b | {"narative": n}, "body.narative"),
        (lambda b, n: b | {"victims": [b["victims"][0] | {"note": n}]}, "body.victims.0.note"),
    ],
    ids=[
        "narrative too long",
        "victim name too long",
        "place too long",
        "narrative as the channel",
        "narrative as a timestamp",
        "narrative instead of the victims",
        "narrative not a string",
        "narrative as a date of birth",
        "unknown field",
        "unknown field in a victim",
    ],
)
async def test_a_bad_contact_is_refused_naming_the_field_without_echoing_it(
    services: Services, keys: Keys, change: Any, field: str
) -> None:
    body, narrative, victim = marked()
    response = await post_contact(services, keys, change(body, narrative))
    problem = assert_problem(response, 422, narrative, victim)
    assert field in fields(problem), problem
    assert problem["title"] == "Request is not valid"


async def test_json_that_does_not_parse_is_refused_without_echoing_it(services: Services, keys: Keys) -> None:
    body, narrative, victim = marked()
    broken = json.dumps(body)[:-20]
    response = await post_contact(services, keys, None, content=broken, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, narrative, victim)


async def test_a_body_over_the_limit_is_refused_with_413(services: Services, keys: Keys) -> None:
    body, narrative, victim = marked()
    body["narrative"] = narrative + " word" * 100_000
    response = await post_contact(services, keys, body)
    problem = assert_problem(response, 413, narrative, victim)
    assert "bytes" in problem["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"]
)
async def test_a_body_that_is_not_json_is_refused_with_415(services: Services, keys: Keys, content_type: str) -> None:
    body, narrative, victim = marked()
    response = await post_contact(
        services, keys, None, content=json.dumps(body), headers={"Content-Type": content_type}
    )
    problem = assert_problem(response, 415, narrative, victim)
    assert "application/json" in problem["detail"]


async def test_json_with_a_charset_is_accepted(services: Services, keys: Keys) -> None:
    body, _, _ = marked()
    response = await post_contact(
        services, keys, None, content=json.dumps(body), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------------------------------------ recorder, auditor


async def test_a_decision_with_credible_evidence_too_long_is_refused_without_echoing_it(
    services: Services, keys: Keys
) -> None:
    evidence = marker("Evidence")
    response = await services.recorder.post(
        f"/v1/contacts/{uuid.uuid4()}/decision",
        json={"outcome": "cri", "rationale": "CCTV reviewed.", "credible_evidence": evidence + "x" * 4000},
        headers=keys.auth(Role.OFFICER),
    )
    problem = assert_problem(response, 422, evidence)
    assert fields(problem) == ["body.credible_evidence"], problem


async def test_a_decision_with_an_unknown_field_is_refused_without_echoing_it(services: Services, keys: Keys) -> None:
    note = marker("Victim")
    response = await services.recorder.post(
        f"/v1/contacts/{uuid.uuid4()}/decision",
        json={"outcome": "cri", "rationale": "CCTV reviewed.", "credible_evidence": "CCTV.", "victim_name": note},
        headers=keys.auth(Role.OFFICER),
    )
    problem = assert_problem(response, 422, note)
    assert fields(problem) == ["body.victim_name"], problem


async def test_a_flag_note_of_the_wrong_type_is_refused_without_echoing_it(services: Services, keys: Keys) -> None:
    note = marker("Narrative")
    response = await services.auditor.post(
        "/v1/flags/1/resolution",
        json={"resolution": note, "note": [note]},
        headers=keys.auth(Role.FCR),
    )
    problem = assert_problem(response, 422, note)
    assert set(fields(problem)) == {"body.resolution", "body.note"}, problem
