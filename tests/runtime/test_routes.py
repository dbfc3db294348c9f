"""The route helper: a route's transaction, the access it logs in it, and a service's refusal as a problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Request
from sqlalchemy import MetaData, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from schemas.events import Role
from services.runtime.access_log import Access, AccessLog, access_log_tables
from services.runtime.auth import KeyVerifier, Principal, require_roles
from services.runtime.database import create_session_factory
from services.runtime.http import create_app
from services.runtime.refusals import Refused
from services.runtime.routes import reading, writing
from services.runtime.service_runtime import ServiceRuntime
from services.runtime.settings import EngineSettings, ServiceSettings
from tests.conftest import Keys
from tests.runtime.scratch import Scratch, count_rows, decided_event

ANYONE = require_roles(*Role)


@dataclass(frozen=True)
class Thing:
    """Stands for a stored record of some force."""

    force: str


@dataclass(frozen=True)
class Site:
    """A test app on a scratch schema, and its access log."""

    client: httpx.AsyncClient
    scratch: Scratch
    log: AccessLog


def routes_on(scratch: Scratch) -> APIRouter:
    """Routes declared with the helper, as a service's api.py declares them."""
    router = APIRouter()
    known = {"gmp-1": Thing("GMP"), "mps-1": Thing("MPS")}

    @router.get("/things/{ref}")
    async def get_thing(request: Request, ref: str, principal: Annotated[Principal, ANYONE]) -> dict[str, str]:
        async with reading(request, principal) as route:
            thing = route.own(known.get(ref), f"No thing {ref}.")
            route.touches("thing", ref)
        return {"force": thing.force}

    @router.post("/things/{ref}")
    async def change_thing(
        request: Request, ref: str, refuse: bool, principal: Annotated[Principal, ANYONE]
    ) -> dict[str, str]:
        async with writing(request, principal) as route:
            event = decided_event(note=ref)
            await route.session.execute(insert(scratch.handled).values(event_id=event.event_id, note=ref))
            route.uow.emit(topics.CONTACTS, event)
            result: str | Refused = (
                Refused(409, "Thing cannot change", f"{ref} is closed.", errors=(("reason", "too late"),))
                if refuse
                else "changed"
            )
            outcome = route.accepted(result)
            route.touches("thing", ref)
            route.touches("contact", event.event_id, access=Access.COLLECTION)
        return {"outcome": outcome}

    return router


@pytest.fixture
async def site(db: AsyncEngine, engines: EngineSettings, scratch: Scratch) -> AsyncIterator[Site]:
    """The test routes in a service app on the scratch schema (no relay or consumers: nothing is started)."""
    entries, seals = access_log_tables(MetaData(schema=scratch.schema))
    async with db.begin() as conn:
        await conn.run_sync(entries.metadata.create_all)
    log = AccessLog(entries, seals)
    runtime = ServiceRuntime(
        name="routes-test",
        schema=scratch.schema,
        settings=ServiceSettings(engines=engines),
        outbox=scratch.outbox,
        inbox=scratch.inbox,
        access_log=log,
    )
    runtime.engine = db
    runtime.sessions = create_session_factory(db)
    runtime.keys = KeyVerifier(db, 30.0)
    app = create_app(runtime, title="routes test", description="", routers=[routes_on(scratch)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Site(client, scratch, log)


async def logged(db: AsyncEngine, log: AccessLog) -> list[tuple[str, str, str, str]]:
    """The access log as (access, subject type, subject id, force), in order."""
    async with db.connect() as conn:
        rows = (await conn.execute(select(log.entries).order_by(log.entries.c.id))).all()
    return [(r.access, r.subject_type, r.subject_id, r.force) for r in rows]


async def test_a_read_logs_what_it_consulted_and_a_miss_or_another_forces_record_logs_nothing(
    site: Site, db: AsyncEngine, keys: Keys
) -> None:
    found = await site.client.get("/things/gmp-1", headers=keys.auth(Role.OFFICER))
    assert found.status_code == 200, found.text
    assert await logged(db, site.log) == [("consultation", "thing", "gmp-1", "GMP")]

    unknown = await site.client.get("/things/nothing", headers=keys.auth(Role.OFFICER))
    other_force = await site.client.get("/things/mps-1", headers=keys.auth(Role.OFFICER))
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "No thing nothing.")
    assert (other_force.status_code, other_force.json()["detail"]) == (404, "No thing mps-1.")  # not acknowledged
    assert len(await logged(db, site.log)) == 1


async def test_a_write_commits_its_state_events_and_access_log_together(
    site: Site, db: AsyncEngine, keys: Keys
) -> None:
    response = await site.client.post("/things/gmp-1", params={"refuse": False}, headers=keys.auth(Role.OFFICER))
    assert response.json() == {"outcome": "changed"}
    assert await count_rows(db, site.scratch.handled) == 1
    assert await count_rows(db, site.scratch.outbox) == 1
    entries = await logged(db, site.log)
    assert entries[0] == ("alteration", "thing", "gmp-1", "GMP")
    assert entries[1][:2] == ("collection", "contact")


async def test_a_refusal_is_a_problem_naming_the_field_and_nothing_is_stored(
    site: Site, db: AsyncEngine, keys: Keys
) -> None:
    response = await site.client.post("/things/gmp-1", params={"refuse": True}, headers=keys.auth(Role.OFFICER))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["title"], body["detail"]) == ("Thing cannot change", "gmp-1 is closed.")
    assert body["errors"] == [{"field": "body.reason", "message": "too late"}]
    assert await count_rows(db, site.scratch.handled) == 0
    assert await count_rows(db, site.scratch.outbox) == 0
    assert await logged(db, site.log) == []
