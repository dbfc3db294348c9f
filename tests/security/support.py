"""What the security tests share: a force's keys, the objects a force holds, and calling a service's routes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import BaseRoute

from crimerec import stack
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Services
from tests.support import contact, eventually, idempotency_key


def service_apps(services: Services) -> dict[str, FastAPI]:
    """The three running apps behind the session's clients, by service name."""
    apps: dict[str, FastAPI] = {}
    for name in ("intake", "recorder", "auditor"):
        transport = getattr(services, name)._transport
        assert isinstance(transport, httpx.ASGITransport), transport
        app = transport.app
        assert isinstance(app, FastAPI)
        apps[name] = app
    return apps


def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if not hasattr(route, "path") and inner is not None and hasattr(inner, "routes"):
            yield from walk(inner.routes)  # an included router: its routes are the app's
        else:
            yield route


def route_table(services: Services) -> list[str]:
    """Every route the three services serve, as `service METHOD /path/{param}` (HEAD goes with GET)."""
    table = []
    for name, app in service_apps(services).items():
        for route in walk(list(app.routes)):
            methods = set(getattr(route, "methods", None) or {"*"}) - {"HEAD"}
            path = getattr(route, "path", repr(route))
            table.extend(f"{name} {method} {path}" for method in sorted(methods or {"HEAD"}))
    return table


async def asgi_status(app: FastAPI, method: str, path: str, query: str, headers: dict[str, str]) -> int:
    """The status a route answers with, read from the start of the response; the client then hangs up. For routes
    that stream without end (server-sent events), which an in-process httpx client would wait on for ever."""
    started = asyncio.Event()
    statuses: list[int] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            started.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"test"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "state": {},
    }
    # A bound on a hang, not a timing assertion: a stream that never ends after the hang-up fails here.
    await asyncio.wait_for(app(scope, receive, send), timeout=60)
    return statuses[0]


def bearer(key: str) -> dict[str, str]:
    """An Authorization header for a raw API key."""
    return {"Authorization": f"Bearer {key}"}


def key_id(key: str) -> str:
    """The principal id of a key `crk_<key id>_<secret>`."""
    return key.split("_", 2)[1]


def area(force: str) -> dict[str, Any]:
    """A location in a force's own area."""
    return {"description": "Front of the house", "postcode": None, "force_area": force}


def damage(force: str, **changes: Any) -> dict[str, Any]:
    """A contact of `force` the rules record at once: criminal damage to the victim's home (58A)."""
    body = contact(
        force=force,
        location=area(force),
        offences=[{"victim_ref": "V1", "ho_class": "58A", "offender_ref": "S1", "incident_ref": None}],
        narrative="The front window of the house was smashed with a brick overnight.",
    )
    body.update(changes)
    return body


def received_ago(hours: float) -> dict[str, str]:
    """Changes to a contact received `hours` ago (it happened an hour before that)."""
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    return {
        "received_at": received.isoformat(),
        "occurred_from": (received - timedelta(hours=1)).isoformat(),
        "occurred_to": (received - timedelta(minutes=50)).isoformat(),
    }


@dataclass
class Force:
    """One force as the tests see it: a key per role and the objects it holds, each created through the APIs."""

    code: str
    keys: dict[Role, str]
    contact_id: str = ""
    source_reference: str = ""
    crime: str = ""
    crime_to_approve: str = ""
    crime_to_reject: str = ""
    request_to_approve: str = ""
    request_to_reject: str = ""
    pending_contact: str = ""
    late_contact: str = ""
    screened_contact: str = ""
    flag_id: int = 0
    audit_id: str = ""
    subscription_id: str = ""

    def auth(self, role: Role) -> dict[str, str]:
        """An Authorization header for one of the force's roles."""
        return bearer(self.keys[role])

    def ids(self) -> list[str]:
        """Every identifier of the force's objects, as text: none may show up in another force's answers."""
        named = [
            self.contact_id, self.source_reference, self.crime, self.crime_to_approve, self.crime_to_reject,
            self.request_to_approve, self.request_to_reject, self.pending_contact, self.late_contact,
            self.screened_contact, self.audit_id, self.subscription_id,
        ]  # fmt: skip
        return [i for i in named if i]


async def force_keys(engines: EngineSettings, code: str, label: str) -> dict[Role, str]:
    """One key per role for a force."""
    issued = await stack.issue_keys(engines, force=code, roles=list(Role), label=label)
    return {Role(role): key for role, key in issued.items()}


async def submit(services: Services, force: Force, body: dict[str, Any]) -> str:
    """Posts a contact to intake as the force's call handler; returns its id."""
    response = await services.intake.post(
        "/v1/contacts", json=body, headers=force.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact_id"]
    return contact_id


async def decision(services: Services, force: Force, contact_id: str) -> dict[str, Any]:
    """The recorder's decision on a contact, once made."""

    async def decided() -> dict[str, Any] | None:
        r = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=force.auth(Role.OFFICER))
        assert r.status_code in (200, 404), r.text
        return r.json() if r.status_code == 200 else None

    return await eventually(decided)


async def recorded_crime(services: Services, force: Force, **changes: Any) -> tuple[str, str, str]:
    """A contact recorded at once as one crime: (contact id, source reference, crime reference)."""
    body = damage(force.code, **changes)
    contact_id = await submit(services, force, body)
    decided = await decision(services, force, contact_id)
    assert decided["outcome"] == "recorded" and len(decided["crime_references"]) == 1, decided
    return contact_id, body["source"]["reference"], decided["crime_references"][0]


async def request_removal(services: Services, force: Force, crime: str) -> str:
    """An officer's C4 (recorded in error) request for a crime; returns the request id."""
    body = {
        "code": "C4",
        "explanation": "Recorded against the wrong incident.",
        "error": "The call was a test call from the control room.",
        "victim_informed": False,
    }
    r = await services.recorder.post(
        f"/v1/crimes/{crime}/cancellation-requests", json=body, headers=force.auth(Role.OFFICER)
    )
    assert r.status_code == 201, r.text
    request_id: str = r.json()["request_id"]
    return request_id


async def populate(services: Services, force: Force) -> Force:
    """Gives a force one of everything a route can name: contacts, crimes, requests, a flag, an audit, a webhook."""
    force.contact_id, force.source_reference, force.crime = await recorded_crime(services, force)
    _, _, force.crime_to_approve = await recorded_crime(services, force)
    _, _, force.crime_to_reject = await recorded_crime(services, force)
    force.request_to_approve = await request_removal(services, force, force.crime_to_approve)
    force.request_to_reject = await request_removal(services, force, force.crime_to_reject)

    unconfirmed = {"ref": "V1", "kind": "person", "name": "Sam Reid", "date_of_birth": None}
    pending_body = damage(
        force.code,
        reporter={"relationship": "third_party", "name": "a neighbour", "phone": None, "email": None},
        victims=[unconfirmed | {"identified": True, "confirmed": False}],
    )
    force.pending_contact = await submit(services, force, pending_body)
    assert (await decision(services, force, force.pending_contact))["outcome"] == "pending"

    # Logged as concern for welfare, but the narrative discloses an assault: screened positive, awaiting review.
    screened_body = damage(
        force.code,
        incident={"category": "public_safety", "opening_code": None, "qualifiers": []},
        offences=[],
        narrative="Concern for welfare. Caller says her partner punched her in the face last night; she has a cut "
        "lip and is scared to go home.",
    )
    force.screened_contact = await submit(services, force, screened_body)
    assert (await decision(services, force, force.screened_contact))["outcome"] == "non_crime"

    # Received 25 hours ago and recorded now: the auditor flags it LATE_RECORD.
    force.late_contact, _, _ = await recorded_crime(services, force, **received_ago(25))

    async def late_flag() -> int | None:
        r = await services.auditor.get(
            "/v1/flags",
            params={"contact_id": force.late_contact, "rule": "LATE_RECORD"},
            headers=force.auth(Role.AUDITOR),
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        return int(items[0]["flag_id"]) if items else None

    force.flag_id = await eventually(late_flag)

    now = datetime.now(UTC)
    audit = await services.auditor.post(
        "/v1/audits",
        json={
            "period_from": (now - timedelta(days=3)).isoformat(),
            "period_to": (now + timedelta(hours=1)).isoformat(),
            "size": 3,
            "stratify": False,
        },
        headers=force.auth(Role.AUDITOR),
    )
    assert audit.status_code == 201, audit.text
    assert audit.json()["items"], audit.text
    force.audit_id = audit.json()["audit_id"]

    subscription = await services.auditor.post("/v1/subscriptions", json=webhook(), headers=force.auth(Role.SUPERVISOR))
    assert subscription.status_code == 201, subscription.text
    force.subscription_id = subscription.json()["subscription_id"]
    return force


def webhook() -> dict[str, Any]:
    """A webhook subscription to a loopback port nobody listens on: deliveries fail, nothing leaves the machine."""
    return {"callback_url": "http://127.0.0.1:9/crimerec-alerts", "description": "security tests"}
