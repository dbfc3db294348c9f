"""The HTTP app factory, as the running services show it: health, readiness, problem+json, limits, credentials."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.runtime.auth import api_keys, issue_key
from services.runtime.problems import PROBLEM_JSON
from tests.conftest import Keys, Services
from tests.support import contact, idempotency_key

A_CONTACT = f"/v1/contacts/{uuid.uuid4()}"  # any route that needs a credential


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    return body


@pytest.mark.parametrize("service", ["intake", "recorder", "auditor"])
async def test_healthz_needs_no_credential_and_readyz_reports_each_engine(services: Services, service: str) -> None:
    client: httpx.AsyncClient = getattr(services, service)

    health = await client.get("/healthz", headers={"x-request-id": "trace-me-42"})
    assert health.status_code == 200
    body = health.json()
    if service == "recorder":  # the recorder also says how narrative screening runs (issue 18)
        assert body.pop("screening")["mode"] == "rules+model"
    assert body == {"status": "ok", "service": service}
    assert health.headers["x-request-id"] == "trace-me-42"

    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.fixture
async def revoked_key(db: AsyncEngine) -> AsyncIterator[str]:
    key = await issue_key(db, roles=[Role.OFFICER], force="GMP", label="revoked before use")
    async with db.begin() as conn:
        await conn.execute(
            update(api_keys).where(api_keys.c.key_id == key.split("_", 2)[1]).values(revoked_at=api_keys.c.created_at)
        )
    yield key


async def test_requests_without_a_valid_credential_get_401_with_a_challenge(
    services: Services, keys: Keys, revoked_key: str
) -> None:
    officer = keys.mine[Role.OFFICER]
    key_id, secret = officer.split("_", 2)[1:]
    refused = {
        "no Authorization header": {},
        "another scheme": {"Authorization": f"Basic {officer}"},
        "a bearer with no key": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not-a-key"},
        "an unknown key": {"Authorization": f"Bearer crk_{'0' * 16}_{secret}"},
        "a wrong secret": {"Authorization": f"Bearer crk_{key_id}_{secret[::-1]}"},
        "a revoked key": {"Authorization": f"Bearer {revoked_key}"},
    }
    for what, headers in refused.items():
        response = await services.intake.get(A_CONTACT, headers=headers)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer", what
        assert body["detail"], what  # says what to send, or that the key is unknown or revoked
        assert body["instance"] == A_CONTACT, what

    assert (await services.intake.get(A_CONTACT, headers=keys.auth(Role.OFFICER))).status_code == 404


async def test_a_credential_without_the_role_gets_403(services: Services, keys: Keys) -> None:
    response = await services.intake.post(
        "/v1/contacts", json=contact(), headers=keys.auth(Role.OFFICER) | idempotency_key()
    )
    body = assert_problem(response, 403)
    assert "call_handler" in str(body["detail"])


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), (Role.OFFICER, 403), (Role.CALL_HANDLER, 403), (Role.AUDITOR, 200), (Role.ADMIN, 200)],
)
async def test_metrics_are_for_auditors_and_admins(
    services: Services, keys: Keys, role: Role | None, status: int
) -> None:
    response = await services.recorder.get("/metrics", headers=keys.auth(role) if role else {})
    assert response.status_code == status
    if status == 200:
        assert "crimerec_outbox_published_total" in response.text
        assert "crimerec_http_request_seconds" in response.text
    else:
        assert_problem(response, status)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/no-such-thing", 404), ("POST", "/nowhere", 404), ("DELETE", "/healthz", 405)],
)
async def test_an_unknown_route_or_method_is_a_problem(
    services: Services, keys: Keys, method: str, path: str, status: int
) -> None:
    for headers in ({}, keys.auth(Role.ADMIN)):
        body = assert_problem(await services.auditor.request(method, path, headers=headers), status)
        assert body["instance"] == path


async def _chunks(total: int, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


async def stored_with_reference(db: AsyncEngine, reference: str) -> int:
    """How many contacts intake holds for a caller's reference."""
    async with db.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM intake.contacts WHERE source_reference = :r"), {"r": reference}
        )
    return int(found or 0)


async def test_a_body_over_the_limit_gets_413_announced_or_chunked(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    headers = keys.auth(Role.CALL_HANDLER) | idempotency_key() | {"content-type": "application/json"}
    body = contact(narrative="x" * 9000)
    padded = httpx.Request("POST", "http://test", json=body).content + b" " * 300_000  # valid JSON, too long

    announced = await services.intake.post("/v1/contacts", content=padded, headers=headers)
    assert "content-length" in announced.request.headers
    detail = assert_problem(announced, 413)["detail"]
    assert str(256 * 1024) in str(detail)

    chunked = await services.intake.post("/v1/contacts", content=_chunks(400_000), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert_problem(chunked, 413)

    unauthenticated = await services.intake.post("/v1/contacts", content=_chunks(400_000))
    assert_problem(unauthenticated, 413)  # refused before anything reads it, credential or not

    assert await stored_with_reference(db, body["source"]["reference"]) == 0


@pytest.mark.parametrize(("size", "status"), [(256 * 1024, 422), (256 * 1024 + 1, 413)], ids=["at", "over"])
async def test_the_body_limit_is_exact(services: Services, keys: Keys, size: int, status: int) -> None:
    body = b'{"colour": "red"}'  # not a contact: a body the limit lets through is refused as invalid instead
    response = await services.intake.post(
        "/v1/contacts",
        content=body + b" " * (size - len(body)),
        headers=keys.auth(Role.CALL_HANDLER) | idempotency_key() | {"content-type": "application/json"},
    )
    assert_problem(response, status)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"victims": [{"ref": "!no good", "kind": "person", "name": "Dana Holt", "identified": True}]},
            "body.victims.0.ref",
        ),
        ({"colour": "red"}, "body.colour"),  # unknown fields are refused
        ({"narrative": "x" * 10_001}, "body.narrative"),
        ({"channel": "carrier pigeon"}, "body.channel"),
    ],
    ids=["bad victim ref", "unknown field", "narrative too long", "unknown channel"],
)
async def test_an_invalid_body_gets_422_naming_the_field_and_nothing_is_stored(
    services: Services, keys: Keys, db: AsyncEngine, change: dict[str, object], field: str
) -> None:
    body = contact(**change)
    response = await services.intake.post(
        "/v1/contacts", json=body, headers=keys.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    problem = assert_problem(response, 422)
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert field in [error["field"] for error in errors], errors
    assert all(error["message"] for error in errors)
    assert field in str(problem["detail"])
    assert await stored_with_reference(db, body["source"]["reference"]) == 0
