"""`Prefer: wait=N` (RFC 7240) on POST /v1/contacts: the decision and crime references in the answer when they come
within N seconds, the plain 201 otherwise (issue 21)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from schemas.events import Role
from services.intake.api import prefer_wait
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.intake.helpers import post
from tests.support import contact


async def test_the_answer_carries_the_decision_and_crime_references_when_they_come_in_time(
    services: Services, keys: Keys
) -> None:
    response = await post(services.intake, contact(), auth=keys.auth(Role.CALL_HANDLER), headers={"Prefer": "wait=30"})
    assert response.status_code == 201, response.text
    assert response.headers["Preference-Applied"] == "wait=30"
    body = response.json()
    assert body["status"] == "decided"
    assert body["outcome"] == "recorded"
    assert len(body["crime_references"]) == 1
    # The same decision the recorder holds, and intake's own view of the contact.
    decision = await services.recorder.get(
        f"/v1/contacts/{body['contact_id']}/decision", headers=keys.auth(Role.OFFICER)
    )
    assert decision.status_code == 200
    assert decision.json()["crime_references"] == body["crime_references"]
    read = await services.intake.get(f"/v1/contacts/{body['contact_id']}", headers=keys.auth(Role.CALL_HANDLER))
    assert read.json()["status"] == "decided"
    assert read.json()["crime_references"] == body["crime_references"]


async def test_a_retry_with_the_same_key_and_a_wait_gets_the_decision_too(services: Services, keys: Keys) -> None:
    body, key = contact(), f"test-{uuid.uuid4().hex}"
    first = await post(services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key)
    assert first.status_code == 201
    assert "Preference-Applied" not in first.headers
    assert first.json()["status"] == "received"
    again = await post(
        services.intake, body, auth=keys.auth(Role.CALL_HANDLER), key=key, headers={"Prefer": "respond-async, wait=30"}
    )
    assert again.status_code == 201
    assert again.json()["contact_id"] == first.json()["contact_id"]
    assert again.json()["status"] == "decided"
    assert again.headers["Preference-Applied"] == "wait=30"


@contextlib.asynccontextmanager
async def intake_alone(engines: EngineSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An intake publishing to topics of its own, which no recorder reads: nothing it takes is ever decided."""
    alone = engines.model_copy(update={"topic_prefix": f"alone{uuid.uuid4().hex[:8]}."})
    await ensure_topics(alone, partitions=1)
    app = create_app(IntakeSettings(engines=alone))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    async with app.router.lifespan_context(app), client:
        yield client


async def test_without_a_decision_in_time_the_answer_is_the_plain_201(engines: EngineSettings, keys: Keys) -> None:
    async with intake_alone(engines) as client:
        response = await post(client, contact(), auth=keys.auth(Role.CALL_HANDLER), headers={"Prefer": "wait=1"})
    assert response.status_code == 201, response.text
    assert "Preference-Applied" not in response.headers
    body = response.json()
    assert body["status"] == "received"
    assert "crime_references" not in body and "outcome" not in body


async def test_a_preference_not_understood_is_ignored(services: Services, keys: Keys) -> None:
    for prefer in ("wait=soon", "wait=-1", "handling=lenient", "wait=1.5"):
        response = await post(services.intake, contact(), auth=keys.auth(Role.CALL_HANDLER), headers={"Prefer": prefer})
        assert response.status_code == 201, (prefer, response.text)
        assert "Preference-Applied" not in response.headers
        assert response.json()["status"] == "received"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        (["wait=10"], 10),
        (["respond-async, wait=5"], 5),
        (["handling=strict", "WAIT = 7"], 7),
        (['wait="3"'], 3),
        (["wait=10; extra=1"], 10),
        (["wait=3600"], 30),
        (["wait="], None),
        (["wait=abc"], None),
        (["wait=٣"], None),  # a digit, but not an ASCII one
        (["return=minimal"], None),
    ],
)
def test_the_wait_preference_is_read_as_rfc_7240_says(headers: list[str] | None, expected: int | None) -> None:
    assert prefer_wait(headers, ceiling=30) == expected
