"""The authority matrix as force policy: mode `audit` accepts an authoriser below the matrix and says so in the
event, for the auditor to flag; a force may have its own matrix or mode (issue 4)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.recorder.app import create_app
from services.recorder.settings import RecorderSettings
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.recorder.helpers import (
    approve,
    c4,
    crime,
    events,
    key_id,
    one_crime,
    payloads,
    problem,
    request_cancellation,
)


@contextlib.asynccontextmanager
async def _recorder(settings: RecorderSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Another recorder on the session's engines, serving HTTP only.

    It does not join the contacts consumer group (the session's recorder decides every contact); that spares the
    other tests a rebalance while they wait for decisions.
    """
    app = create_app(settings)
    app.state.runtime.subscriptions = ()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def audit_recorder(engines: EngineSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A recorder whose default authority mode is `audit`."""
    async with _recorder(RecorderSettings(engines=engines, authority={"mode": "audit"})) as client:
        yield client


@pytest.fixture(scope="module")
async def per_force_recorder(engines: EngineSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A recorder with per-force policy: GMP lets supervisors authorise violence; MPS only audits its matrix."""
    settings = RecorderSettings(
        engines=engines,
        force_authority={
            "GMP": {"matrix": {"violence": ["supervisor", "ddm", "fcr"]}},
            "MPS": {"mode": "audit"},
        },
    )
    async with _recorder(settings) as client:
        yield client


async def _approve_on(
    client: httpx.AsyncClient, request_id: str, headers: dict[str, str], note: str = "Agreed."
) -> httpx.Response:
    return await client.post(f"/v1/cancellation-requests/{request_id}/approval", json={"note": note}, headers=headers)


async def _cancelled_event(db: AsyncEngine, services: Services, keys: Keys, crn: str) -> dict[str, Any]:
    contact_id = (await crime(services, keys, crn))["contact_id"]
    [event] = payloads(await events(db, contact_id), "crime.cancelled")
    return event


# ------------------------------------------------------------------------------------------------ mode audit


async def test_in_audit_mode_a_supervisor_s_violence_cancellation_is_accepted_and_marked_for_the_auditor(
    services: Services, keys: Keys, db: AsyncEngine, audit_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys)
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER))
    supervisor = keys.auth(Role.SUPERVISOR)

    r = await _approve_on(audit_recorder, request["request_id"], supervisor)

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    record = await crime(services, keys, crn)
    assert record["status"] == "cancelled"
    assert "needs ddm or fcr" in record["history"][-1]["detail"]["authority_problem"]
    event = await _cancelled_event(db, services, keys, crn)
    assert event["authority_mode"] == "audit"
    assert event["authority_required"] == ["ddm", "fcr"]
    assert event["authorised_by"] == {"principal": key_id(supervisor), "roles": ["supervisor"], "force": "GMP"}
    assert event["requested_by"]["principal"] == key_id(keys.auth(Role.OFFICER))


async def test_in_audit_mode_an_authoriser_within_the_matrix_leaves_no_problem_on_record(
    services: Services, keys: Keys, db: AsyncEngine, audit_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys)
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER))

    r = await _approve_on(audit_recorder, request["request_id"], keys.auth(Role.DDM))

    assert r.status_code == 200, r.text
    assert (await crime(services, keys, crn))["history"][-1]["detail"]["authority_problem"] is None
    assert (await _cancelled_event(db, services, keys, crn))["authority_mode"] == "audit"


async def test_in_audit_mode_roles_that_authorise_nothing_are_still_refused(
    services: Services, keys: Keys, audit_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys)
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.SUPERVISOR))
    for role in (Role.OFFICER, Role.AUDITOR):
        problem(await _approve_on(audit_recorder, request["request_id"], keys.auth(role)), 403)
    assert (await crime(services, keys, crn))["status"] == "recorded"


async def test_in_audit_mode_the_person_who_asked_still_cannot_authorise(
    services: Services, keys: Keys, audit_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys, ho_class="28E")  # 'other': a supervisor is within the matrix
    supervisor = keys.auth(Role.SUPERVISOR)
    request = await request_cancellation(services, crn, c4(), supervisor)

    problem(await _approve_on(audit_recorder, request["request_id"], supervisor), 403)
    assert (await crime(services, keys, crn))["status"] == "recorded"


# ------------------------------------------------------------------------------------------------ per force


async def test_a_force_s_own_matrix_lets_its_supervisors_authorise_violence(
    services: Services, keys: Keys, db: AsyncEngine, per_force_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys)
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER))
    # The session's recorder applies the default matrix ...
    problem(await approve(services, request["request_id"], keys.auth(Role.SUPERVISOR)), 403)

    # ... a recorder with GMP's own matrix lets the supervisor authorise, in enforce mode.
    r = await _approve_on(per_force_recorder, request["request_id"], keys.auth(Role.SUPERVISOR))

    assert r.status_code == 200, r.text
    event = await _cancelled_event(db, services, keys, crn)
    assert event["authority_mode"] == "enforce"
    assert event["authority_required"] == ["supervisor", "ddm", "fcr"]


async def test_a_force_s_matrix_keeps_the_default_for_categories_it_does_not_name(
    services: Services, keys: Keys, per_force_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys, ho_class="19C")
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER))

    body = problem(await _approve_on(per_force_recorder, request["request_id"], keys.auth(Role.SUPERVISOR)), 403)

    assert "rape" in body["detail"] and "fcr" in body["detail"]
    assert (await crime(services, keys, crn))["status"] == "recorded"


async def test_a_force_in_audit_mode_accepts_what_another_force_s_policy_would_refuse(
    services: Services, keys: Keys, db: AsyncEngine, per_force_recorder: httpx.AsyncClient
) -> None:
    crn = await one_crime(services, keys, other=True)  # an MPS crime
    request = await request_cancellation(services, crn, c4(), keys.auth(Role.OFFICER, other=True))

    r = await _approve_on(per_force_recorder, request["request_id"], keys.auth(Role.SUPERVISOR, other=True))

    assert r.status_code == 200, r.text
    contact_id = (await services.recorder.get(f"/v1/crimes/{crn}", headers=keys.auth(Role.OFFICER, other=True))).json()[
        "contact_id"
    ]
    [event] = payloads(await events(db, contact_id), "crime.cancelled")
    assert (event["force"], event["authority_mode"]) == ("MPS", "audit")
    assert event["authority_required"] == ["ddm", "fcr"]
