"""What the recorder's HTTP tests share: getting contacts decided, reading problems, events and the access log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.recorder.models import access_log, outbox
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key

PROBLEM_JSON = "application/problem+json"


def key_id(headers: dict[str, str]) -> str:
    """The principal id (API key id) behind an Authorization header: `crk_<key_id>_<secret>`."""
    return headers["Authorization"].removeprefix("Bearer ").split("_", 2)[1]


def bearer(key: str) -> dict[str, str]:
    """An Authorization header for a raw API key."""
    return {"Authorization": f"Bearer {key}"}


async def submit(services: Services, keys: Keys, body: dict[str, Any] | None = None, *, other: bool = False) -> str:
    """Posts a contact to intake as a call handler; returns its contact id."""
    body = body if body is not None else contact()
    response = await services.intake.post(
        "/v1/contacts", json=body, headers=keys.auth(Role.CALL_HANDLER, other=other) | idempotency_key()
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact_id"]
    return contact_id


async def decision_of(services: Services, keys: Keys, contact_id: str, *, other: bool = False) -> dict[str, Any]:
    """The recorder's decision on a contact, once it has made one."""

    async def decided() -> dict[str, Any] | None:
        r = await services.recorder.get(
            f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.OFFICER, other=other)
        )
        assert r.status_code in (200, 404), r.text
        return r.json() if r.status_code == 200 else None

    decision = await eventually(decided)
    assert decision is not None
    return decision


async def decided(
    services: Services, keys: Keys, body: dict[str, Any] | None = None, *, other: bool = False
) -> tuple[str, dict[str, Any]]:
    """Submits a contact and waits for the recorder's decision: (contact id, decision)."""
    contact_id = await submit(services, keys, body, other=other)
    return contact_id, await decision_of(services, keys, contact_id, other=other)


async def recorded(
    services: Services, keys: Keys, body: dict[str, Any] | None = None, *, other: bool = False
) -> tuple[str, list[str]]:
    """Submits a contact the rules record at once; returns (contact id, its crime references)."""
    contact_id, decision = await decided(services, keys, body, other=other)
    assert decision["outcome"] == "recorded", decision
    assert decision["crime_references"], decision
    return contact_id, decision["crime_references"]


async def one_crime(
    services: Services, keys: Keys, *, ho_class: str = "8N", other: bool = False, **changes: Any
) -> str:
    """A fresh contact recorded as exactly one crime of `ho_class`; returns its crime reference."""
    force = "MPS" if other else "GMP"
    body = contact(
        force=force,
        offences=[{"victim_ref": "V1", "ho_class": ho_class, "offender_ref": "S1", "incident_ref": None}],
        **changes,
    )
    body["location"]["force_area"] = force
    _, references = await recorded(services, keys, body, other=other)
    assert len(references) == 1, references
    return references[0]


def pending_contact(**changes: Any) -> dict[str, Any]:
    """A contact every reading of NCRS leaves to a person: a third party reports an assault the victim has not
    confirmed."""
    unconfirmed = {"ref": "V1", "kind": "person", "name": "Sam Reid", "identified": True, "confirmed": False}
    return contact(
        **{
            "reporter": {"relationship": "third_party", "name": "a neighbour", "phone": None, "email": None},
            "victims": [unconfirmed | {"date_of_birth": None}],
        }
        | changes
    )


async def pending(services: Services, keys: Keys, body: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Submits a contact that waits for a person's decision; returns (contact id, decision)."""
    contact_id, decision = await decided(services, keys, body if body is not None else pending_contact())
    assert decision["outcome"] == "pending", decision
    assert decision["crime_references"] == [], decision
    return contact_id, decision


async def crime(services: Services, keys: Keys, crn: str, role: Role = Role.OFFICER) -> dict[str, Any]:
    """GET /v1/crimes/{crn}, which must succeed."""
    r = await services.recorder.get(f"/v1/crimes/{crn}", headers=keys.auth(role))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


def error_fields(body: dict[str, Any]) -> list[str]:
    """The `field` of every entry in a problem's `errors`."""
    return [error["field"] for error in body.get("errors") or []]


def error_for(body: dict[str, Any], field: str) -> str:
    """The message a problem gives for one field (fails when the field is not named)."""
    messages: list[str] = [error["message"] for error in body.get("errors") or [] if error["field"] == field]
    assert messages, f"{field} not named in {body.get('errors')}"
    return messages[0]


# ------------------------------------------------------------------------------------------------ what was stored


async def events(db: AsyncEngine, contact_id: str) -> list[dict[str, Any]]:
    """Every envelope the recorder put in its outbox about a contact, in the order it wrote them."""
    async with db.connect() as conn:
        rows = (
            await conn.execute(select(outbox.c.value).where(outbox.c.key == contact_id).order_by(outbox.c.id))
        ).all()
    return [json.loads(row.value) for row in rows]


def payloads(envelopes: Sequence[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    """The payloads of the envelopes of one event type."""
    return [e["payload"] for e in envelopes if e["event_type"] == event_type]


def types(envelopes: Sequence[dict[str, Any]]) -> list[str]:
    """The event types, in order."""
    return [e["event_type"] for e in envelopes]


async def access_entries(db: AsyncEngine, subject_id: str) -> list[Any]:
    """The recorder's personal-data access log entries about one subject, oldest first."""
    async with db.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(access_log).where(access_log.c.subject_id == subject_id).order_by(access_log.c.id)
                )
            ).all()
        )


# ------------------------------------------------------------------------------------------------ cancellations


def c1(receiving_force: str = "CUM", **changes: Any) -> dict[str, Any]:
    """A complete C1 (transfer) request."""
    return {
        "code": "C1",
        "explanation": "The assault happened in Cumbria.",
        "receiving_force": receiving_force,
        "victim_informed": False,
    } | changes


def c2(**changes: Any) -> dict[str, Any]:
    """A complete C2 (additional verifiable information) request."""
    return {
        "code": "C2",
        "explanation": "CCTV shows the caller fell; nobody struck him.",
        "avi": {"description": "CCTV of the whole incident", "held_at": "CCTV ref MCR-7781, exhibit JB/1"},
        "victim_informed": True,
        "victim_informed_at": "2026-01-05T10:00:00Z",
    } | changes


def c3(duplicate_of: str, **changes: Any) -> dict[str, Any]:
    """A complete C3 (duplicate) request."""
    return {
        "code": "C3",
        "explanation": "The same assault was reported twice.",
        "duplicate_of": duplicate_of,
        "victim_informed": False,
    } | changes


def c4(**changes: Any) -> dict[str, Any]:
    """A complete C4 (recorded in error) request."""
    return {
        "code": "C4",
        "explanation": "Recorded against the wrong incident.",
        "error": "The call was a test call from the control room.",
        "victim_informed": False,
    } | changes


async def post_cancellation_request(
    services: Services, crn: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """POST a cancellation request for a crime."""
    return await services.recorder.post(f"/v1/crimes/{crn}/cancellation-requests", json=body, headers=headers)


async def request_cancellation(
    services: Services, crn: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """Asks for a crime to be cancelled; the request must be accepted (201). Returns the request."""
    r = await post_cancellation_request(services, crn, body, headers)
    assert r.status_code == 201, r.text
    request: dict[str, Any] = r.json()
    return request


async def approve(
    services: Services, request_id: str, headers: dict[str, str], note: str = "Agreed."
) -> httpx.Response:
    """POST the approval of a cancellation request."""
    return await services.recorder.post(
        f"/v1/cancellation-requests/{request_id}/approval", json={"note": note}, headers=headers
    )


async def reject(
    services: Services, request_id: str, headers: dict[str, str], note: str = "Not made out."
) -> httpx.Response:
    """POST the rejection of a cancellation request."""
    return await services.recorder.post(
        f"/v1/cancellation-requests/{request_id}/rejection", json={"note": note}, headers=headers
    )
