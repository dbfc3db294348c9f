"""Route × caller × force: every route of the three services, called by every kind of caller (issue 22).

The routes come from the running apps' own route tables, so a route added tomorrow fails
`test_every_route_is_in_the_expectations_table` until someone says here who may call it and how it is scoped.

Callers: no token, malformed tokens, a real key id with a wrong secret, a revoked key, each role of the owning
force, and each role of another force. Two forces of their own (NYP owns, WYP is the other; then the other way
round) each hold one of everything a path can name, created through the APIs: contacts, crimes, cancellation
requests, a pending contact, a flag, a sample audit, a webhook subscription.

Every caller that must be refused calls first; then the owning force's view of its objects must be exactly what it
was (nothing changed by a refused call). Then the allowed roles call, in table order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Services
from tests.security.support import (
    Force,
    asgi_status,
    bearer,
    damage,
    force_keys,
    key_id,
    populate,
    route_table,
    service_apps,
    webhook,
)
from tests.support import idempotency_key


class Scope(Enum):
    """How a route answers an allowed role of another force."""

    PUBLIC = "no credential needed, nothing of a force behind it"
    GLOBAL = "needs a role, but shows nothing of any force (metrics, the auditor's clock)"
    NOT_FOUND = "names another force's object: 404, in the words an unknown id gets"
    FORBIDDEN = "asks outright for another force's data (force= parameter, force in the body): 403"
    OWN_ONLY = "answers from the caller's own force only: 2xx, and nothing of the other force in it"


ALL = frozenset(Role)


@dataclass(frozen=True)
class Call:
    """One request, aimed at the owning force's objects."""

    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Expect:
    """Who may call a route, and how it is scoped to a force; `call` builds the request for the owning force."""

    roles: frozenset[Role]
    scope: Scope
    call: Callable[[Force], Call]
    stream: bool = False  # server-sent events: only the status is read


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles) | {Role.ADMIN}  # admin passes every role check (services/runtime/auth.py)


def _period(force: Force) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=30)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}


def _new_contact(force: Force) -> Call:
    return Call("/v1/contacts", body=damage(force.code), headers=idempotency_key())


def _new_batch(force: Force) -> Call:
    items = [{"idempotency_key": idempotency_key()["Idempotency-Key"], "contact": damage(force.code)}]
    return Call("/v1/contacts:batch", body={"contacts": items})


RECORDER_READERS = _roles(Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR, Role.CALL_HANDLER)
CHANGERS = _roles(Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR)
AUTHORISERS = _roles(Role.SUPERVISOR, Role.DDM, Role.FCR)
FLAG_READERS = _roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR, Role.DDM)
STATS_READERS = _roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR)
AUDITORS = _roles(Role.AUDITOR, Role.FCR)
SUPERVISORS = _roles(Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR)


def _public(path: str) -> Expect:
    return Expect(frozenset(), Scope.PUBLIC, lambda _f: Call(path))


def _service_routes(service: str) -> dict[str, Expect]:
    return {
        f"{service} GET /healthz": _public("/healthz"),
        f"{service} GET /readyz": _public("/readyz"),
        f"{service} GET /openapi.json": _public("/openapi.json"),
        f"{service} GET /docs": _public("/docs"),
        f"{service} GET /docs/oauth2-redirect": _public("/docs/oauth2-redirect"),
        f"{service} GET /redoc": _public("/redoc"),
        f"{service} GET /metrics": Expect(_roles(Role.AUDITOR), Scope.GLOBAL, lambda _f: Call("/metrics")),
    }


# The expectations, in the order the allowed roles call them (a webhook is resumed before it is deactivated, a flag
# acknowledged before it is resolved). Request bodies are valid, so a status says who was let through.
EXPECTED: dict[str, Expect] = {
    **_service_routes("intake"),
    "intake POST /v1/contacts": Expect(_roles(Role.CALL_HANDLER), Scope.FORBIDDEN, _new_contact),
    "intake POST /v1/contacts:batch": Expect(_roles(Role.CALL_HANDLER), Scope.FORBIDDEN, _new_batch),
    "intake GET /v1/contacts/{contact_id}": Expect(
        ALL, Scope.NOT_FOUND, lambda f: Call(f"/v1/contacts/{f.contact_id}")
    ),
    "intake GET /v1/contacts": Expect(
        ALL,
        Scope.NOT_FOUND,
        lambda f: Call("/v1/contacts", params={"source_system": "STORM", "source_reference": f.source_reference}),
    ),
    **_service_routes("recorder"),
    "recorder GET /v1/crimes/{crime_reference}": Expect(
        RECORDER_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/crimes/{f.crime}")
    ),
    "recorder GET /v1/crimes": Expect(
        RECORDER_READERS, Scope.OWN_ONLY, lambda f: Call("/v1/crimes", params={"contact_id": f.contact_id})
    ),
    "recorder GET /v1/contacts/{contact_id}/decision": Expect(
        RECORDER_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/contacts/{f.contact_id}/decision")
    ),
    "recorder GET /v1/pending": Expect(RECORDER_READERS, Scope.OWN_ONLY, lambda f: Call("/v1/pending")),
    "recorder GET /v1/contacts/{contact_id}/screening": Expect(
        SUPERVISORS, Scope.NOT_FOUND, lambda f: Call(f"/v1/contacts/{f.screened_contact}/screening")
    ),
    "recorder GET /v1/screening/reviews": Expect(SUPERVISORS, Scope.OWN_ONLY, lambda f: Call("/v1/screening/reviews")),
    "recorder POST /v1/screening/reviews/{contact_id}": Expect(
        AUTHORISERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/screening/reviews/{f.screened_contact}",
            body={"action": "confirm_non_crime", "rationale": "Spoke to the caller: she reports no assault."},
        ),
    ),
    "recorder POST /v1/contacts/{contact_id}/decision": Expect(
        CHANGERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/contacts/{f.pending_contact}/decision",
            body={"outcome": "cri", "rationale": "CCTV reviewed.", "credible_evidence": "CCTV shows no damage."},
        ),
    ),
    "recorder POST /v1/crimes/{crime_reference}/reclassification": Expect(
        CHANGERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/crimes/{f.crime}/reclassification",
            body={
                "new_class": "58B",
                "reason": "The building is a shop, not a home.",
                "new_information": True,
                "new_information_detail": "The owner confirmed it is a shop.",
            },
        ),
    ),
    "recorder POST /v1/crimes/{crime_reference}/cancellation-requests": Expect(
        CHANGERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/crimes/{f.crime}/cancellation-requests",
            body={
                "code": "C4",
                "explanation": "Recorded against the wrong incident.",
                "error": "A test call from the control room.",
                "victim_informed": False,
            },
        ),
    ),
    "recorder GET /v1/cancellation-requests/{request_id}": Expect(
        RECORDER_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/cancellation-requests/{f.request_to_approve}")
    ),
    "recorder POST /v1/cancellation-requests/{request_id}/approval": Expect(
        AUTHORISERS,
        Scope.NOT_FOUND,
        lambda f: Call(f"/v1/cancellation-requests/{f.request_to_approve}/approval", body={"note": "Agreed."}),
    ),
    "recorder POST /v1/cancellation-requests/{request_id}/rejection": Expect(
        AUTHORISERS,
        Scope.NOT_FOUND,
        lambda f: Call(f"/v1/cancellation-requests/{f.request_to_reject}/rejection", body={"note": "Not made out."}),
    ),
    "recorder POST /v1/crimes/{crime_reference}/victim-notification": Expect(
        CHANGERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/crimes/{f.crime_to_approve}/victim-notification",
            body={"notified_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(), "method": "phone"},
        ),
    ),
    **_service_routes("auditor"),
    "auditor GET /v1/clock": Expect(FLAG_READERS, Scope.GLOBAL, lambda _f: Call("/v1/clock")),
    "auditor GET /v1/contacts/{contact_id}": Expect(
        FLAG_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/contacts/{f.late_contact}")
    ),
    "auditor GET /v1/flags": Expect(
        FLAG_READERS, Scope.OWN_ONLY, lambda f: Call("/v1/flags", params={"contact_id": f.late_contact})
    ),
    "auditor GET /v1/flags/{flag_id}": Expect(FLAG_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/flags/{f.flag_id}")),
    "auditor POST /v1/flags/{flag_id}/acknowledgement": Expect(
        FLAG_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/flags/{f.flag_id}/acknowledgement", body={"note": "Seen."})
    ),
    "auditor POST /v1/flags/{flag_id}/resolution": Expect(
        FLAG_READERS,
        Scope.NOT_FOUND,
        lambda f: Call(
            f"/v1/flags/{f.flag_id}/resolution", body={"resolution": "justified", "note": "Late; reviewed."}
        ),
    ),
    "auditor GET /v1/stats/recording": Expect(
        STATS_READERS, Scope.FORBIDDEN, lambda f: Call("/v1/stats/recording", params=_period(f) | {"force": f.code})
    ),
    "auditor GET /v1/stats/recording/weekly": Expect(
        STATS_READERS,
        Scope.FORBIDDEN,
        lambda f: Call("/v1/stats/recording/weekly", params=_period(f) | {"force": f.code}),
    ),
    "auditor GET /v1/stats/cancellations": Expect(
        STATS_READERS,
        Scope.FORBIDDEN,
        lambda f: Call("/v1/stats/cancellations", params=_period(f) | {"force": f.code}),
    ),
    "auditor POST /v1/audits": Expect(
        AUDITORS,
        Scope.OWN_ONLY,
        lambda f: Call(
            "/v1/audits",
            body={
                "period_from": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
                "period_to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "size": 50,
                "stratify": False,
            },
        ),
    ),
    "auditor GET /v1/audits/{audit_id}": Expect(
        STATS_READERS, Scope.NOT_FOUND, lambda f: Call(f"/v1/audits/{f.audit_id}")
    ),
    "auditor PUT /v1/audits/{audit_id}/items/{item_no}": Expect(
        AUDITORS,
        Scope.NOT_FOUND,
        lambda f: Call(f"/v1/audits/{f.audit_id}/items/1", body={"crimes_required": 1, "crimes_correctly_recorded": 1}),
    ),
    "auditor GET /v1/alerts/stream": Expect(SUPERVISORS, Scope.OWN_ONLY, lambda _f: Call("/v1/alerts/stream"), True),
    "auditor POST /v1/subscriptions": Expect(
        SUPERVISORS, Scope.OWN_ONLY, lambda _f: Call("/v1/subscriptions", body=webhook())
    ),
    "auditor GET /v1/subscriptions": Expect(SUPERVISORS, Scope.OWN_ONLY, lambda _f: Call("/v1/subscriptions")),
    "auditor GET /v1/subscriptions/{subscription_id}": Expect(
        SUPERVISORS, Scope.NOT_FOUND, lambda f: Call(f"/v1/subscriptions/{f.subscription_id}")
    ),
    "auditor POST /v1/subscriptions/{subscription_id}/resume": Expect(
        SUPERVISORS, Scope.NOT_FOUND, lambda f: Call(f"/v1/subscriptions/{f.subscription_id}/resume")
    ),
    "auditor DELETE /v1/subscriptions/{subscription_id}": Expect(
        SUPERVISORS, Scope.NOT_FOUND, lambda f: Call(f"/v1/subscriptions/{f.subscription_id}")
    ),
}


# ------------------------------------------------------------------------------------------------------ the forces


@dataclass
class World:
    """Two forces with one of everything, and keys that must never get in."""

    forces: dict[str, Force]
    revoked: str


@pytest.fixture(scope="module")
async def world(services: Services, engines: EngineSettings, db: AsyncEngine) -> World:
    forces = {}
    for code in ("NYP", "WYP"):
        forces[code] = await populate(services, Force(code, await force_keys(engines, code, "security-matrix")))
    revoked = (await force_keys(engines, "NYP", "security-matrix-revoked"))[Role.ADMIN]
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE auth.api_keys SET revoked_at = now() WHERE key_id = :key_id"), {"key_id": key_id(revoked)}
        )
    return World(forces, revoked)


# ------------------------------------------------------------------------------------------------------ calling


@dataclass(frozen=True)
class Caller:
    """Who calls: a name for the report, the Authorization header (if any), the force and role it stands for."""

    name: str
    headers: dict[str, str]
    force: str | None = None
    role: Role | None = None


def unauthenticated(world: World, owner: Force) -> list[Caller]:
    """Callers without a valid credential."""
    real = owner.keys[Role.ADMIN]
    wrong_secret = f"crk_{key_id(real)}_{'A' * 43}"
    basic = base64.b64encode(f"{key_id(real)}:secret".encode()).decode()
    return [
        Caller("no token", {}),
        Caller("empty bearer", {"Authorization": "Bearer "}),
        Caller("malformed token", bearer("not-a-crimerec-key")),
        Caller("real key id, wrong secret", bearer(wrong_secret)),
        Caller("basic auth", {"Authorization": f"Basic {basic}"}),
        Caller("revoked key", bearer(world.revoked)),
    ]


def role_callers(force: Force) -> list[Caller]:
    """One caller per role of a force."""
    return [Caller(f"{force.code} {role.value}", force.auth(role), force.code, role) for role in Role]


@dataclass
class Answer:
    """What came back."""

    status: int
    text: str
    json: Any


async def send(services: Services, route: str, call: Call, expect: Expect, caller: Caller) -> Answer:
    """Makes the route's call, aimed at the owner's objects, as the caller."""
    service, method, _ = route.split(" ", 2)
    headers = call.headers | caller.headers
    if expect.stream:
        app = service_apps(services)[service]
        return Answer(await asgi_status(app, method, call.path, urlencode(call.params, doseq=True), headers), "", None)
    client = getattr(services, service)
    response = await client.request(method, call.path, params=call.params, json=call.body, headers=headers)
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = None
    return Answer(response.status_code, response.text, body)


def _forces_in(value: Any) -> set[str]:
    """Every value of a `force` key anywhere in a JSON document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "force" and isinstance(v, str):
                found.add(v)
            found |= _forces_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= _forces_in(v)
    return found


def refused_as(answer: Answer, status: int, title: str) -> str | None:
    """Why the answer is not the given refusal (problem+json), or None."""
    if answer.status != status:
        return f"expected {status} {title}, got {answer.status}: {answer.text[:300]}"
    if answer.json is not None and answer.json.get("title") != title:
        return f"expected title {title!r}: {answer.text[:300]}"
    return None


def leaks(answer: Answer, owner: Force, call: Call) -> str | None:
    """Why the answer shows something of the owning force beyond what the caller sent (an error's `instance` is
    the path asked for), or None."""
    sent = json.dumps([call.path, call.params, call.body], default=str)
    shown = [i for i in owner.ids() if i in answer.text and i not in sent]
    if shown:
        return f"shows {owner.code}'s {shown}"
    if owner.code in _forces_in(answer.json):
        return f"shows a {owner.code} object: {answer.text[:300]}"
    return None


def judge_refused(expect: Expect, owner: Force, caller: Caller, answer: Answer, call: Call) -> str | None:
    """Checks a caller that must not get at the owner's data through this route."""
    problem = leaks(answer, owner, call)
    if problem:
        return problem
    if expect.scope is Scope.PUBLIC:
        return None if answer.status == 200 else f"public route answered {answer.status}"
    if caller.role is None:
        return refused_as(answer, 401, "Not authenticated")
    if caller.role not in expect.roles:
        return refused_as(answer, 403, "Forbidden")
    # An allowed role of another force.
    match expect.scope:
        case Scope.NOT_FOUND:
            return refused_as(answer, 404, "Not found")
        case Scope.FORBIDDEN:
            return refused_as(answer, 403, "Forbidden")
        case Scope.OWN_ONLY | Scope.GLOBAL:
            return None if 200 <= answer.status < 300 else f"expected 2xx for its own force, got {answer.text[:300]}"
    raise AssertionError(expect.scope)


def judge_allowed(route: str, answer: Answer) -> str | None:
    """Checks an allowed role of the owning force: let through (a business refusal is fine for a change)."""
    method = route.split(" ", 2)[1]
    if method == "GET":
        return None if answer.status == 200 else f"expected 200, got {answer.status}: {answer.text[:300]}"
    if 200 <= answer.status < 300 or answer.status in (409, 422):
        return None
    if answer.status == 403 and answer.json and answer.json.get("title") != "Forbidden":
        return None  # the authority matrix (e.g. who may approve a cancellation), not the route's role check
    return f"expected to be let through, got {answer.status}: {answer.text[:300]}"


async def snapshot(services: Services, owner: Force) -> dict[str, Any]:
    """What the owning force sees of its objects (the parts a change would touch)."""
    admin = owner.auth(Role.ADMIN)

    async def get(client: Any, path: str, **params: Any) -> Any:
        r = await client.get(path, params=params, headers=admin)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    crimes = {}
    for crn in (owner.crime, owner.crime_to_approve, owner.crime_to_reject):
        c = await get(services.recorder, f"/v1/crimes/{crn}")
        crimes[crn] = (c["status"], c["ho_class"], len(c["history"]))
    flag = await get(services.auditor, f"/v1/flags/{owner.flag_id}")
    audit = await get(services.auditor, f"/v1/audits/{owner.audit_id}")
    subscriptions = await get(services.auditor, "/v1/subscriptions", limit=500)
    return {
        "crimes": crimes,
        "crime list": [c["crime_reference"] for c in (await get(services.recorder, "/v1/crimes", limit=500))["items"]],
        "pending": (await get(services.recorder, f"/v1/contacts/{owner.pending_contact}/decision"))["outcome"],
        "requests": [
            (await get(services.recorder, f"/v1/cancellation-requests/{r}"))["status"]
            for r in (owner.request_to_approve, owner.request_to_reject)
        ],
        "flag": (flag["status"], len(flag["history"])),
        "audit": [(i["item_no"], i["judged_by"]) for i in audit["items"]],
        "subscriptions": sorted((s["subscription_id"], s["status"]) for s in subscriptions["items"]),
        "audits of contacts": (await get(services.auditor, f"/v1/contacts/{owner.contact_id}"))["outcome"],
    }


# ------------------------------------------------------------------------------------------------------ the tests


async def test_every_route_is_in_the_expectations_table(services: Services) -> None:
    served = route_table(services)
    assert len(served) == len(set(served)), "a route is served twice"
    missing = sorted(set(served) - set(EXPECTED))
    assert not missing, f"routes with no expectation (say here who may call them, and how they are scoped): {missing}"
    gone = sorted(set(EXPECTED) - set(served))
    assert not gone, f"expectations for routes no service serves any more: {gone}"


@pytest.mark.parametrize(("owner_code", "other_code"), [("NYP", "WYP"), ("WYP", "NYP")])
async def test_every_route_answers_every_caller_as_expected(
    services: Services, world: World, owner_code: str, other_code: str
) -> None:
    owner, other = world.forces[owner_code], world.forces[other_code]
    failures: list[str] = []
    before = await snapshot(services, owner)

    # Everyone who must not get at the owner's data, on every route, first.
    for route, expect in EXPECTED.items():
        own_denied = [c for c in role_callers(owner) if c.role not in expect.roles and expect.scope is not Scope.PUBLIC]
        for caller in [*unauthenticated(world, owner), *own_denied, *role_callers(other)]:
            call = expect.call(owner)
            answer = await send(services, route, call, expect, caller)
            problem = judge_refused(expect, owner, caller, answer, call)
            if problem:
                failures.append(f"{route} as {caller.name}: {problem}")
    after = await snapshot(services, owner)
    assert after == before, "a refused call changed the owner's data"

    # Then the owner's allowed roles, in table order.
    for route, expect in EXPECTED.items():
        allowed = [c for c in role_callers(owner) if c.role in expect.roles or expect.scope is Scope.PUBLIC]
        statuses = []
        for caller in allowed:
            answer = await send(services, route, expect.call(owner), expect, caller)
            statuses.append(answer.status)
            problem = judge_allowed(route, answer)
            if problem:
                failures.append(f"{route} as {caller.name}: {problem}")
        if not any(200 <= s < 300 for s in statuses):
            failures.append(f"{route}: no allowed role got a 2xx ({statuses}); is the request in the table right?")

    assert not failures, f"{len(failures)} unexpected answers:\n" + "\n".join(failures)
