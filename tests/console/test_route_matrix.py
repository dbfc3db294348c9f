"""The console's route x caller matrix (issue 22), generated from its route table so a new route cannot escape it:
every route, called with no sign-in, a forged session cookie, and a sign-in of each role, gets the status its
expectation says; a route missing from the expectations fails the test. Each service checks its own API again
behind the console (tests/security/test_access_matrix.py); here the console's own refusals are checked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
from fastapi.routing import APIRoute

from schemas.events import Role
from services.console.app import create_app
from services.console.settings import ConsoleSettings
from services.console.signin import ALERT_HANDLERS, AUDIT_JUDGES, COOKIE, PAGE_ROLES
from tests.console.conftest import ConsoleStack
from tests.security.support import walk

ANYONE = None  # a route that needs no sign-in
SIGNED_IN = frozenset(Role)  # any live sign-in
# (method, path) → the roles that may use it (admin always may). A forged cookie is treated as no sign-in.
EXPECTED: dict[tuple[str, str], frozenset[Role] | None] = {
    ("GET", "/"): ANYONE,
    ("GET", "/healthz"): ANYONE,
    ("GET", "/readyz"): ANYONE,
    ("GET", "/console"): ANYONE,
    ("GET", "/console/"): ANYONE,
    ("GET", "/console/sign-in"): ANYONE,
    ("POST", "/console/sign-in"): ANYONE,
    ("POST", "/console/sign-out"): ANYONE,
    ("GET", "/console/alerts"): PAGE_ROLES["alerts"],
    ("GET", "/console/alerts/stream"): PAGE_ROLES["alerts"],
    ("POST", "/console/alerts/{flag_id}/acknowledgement"): ALERT_HANDLERS,
    ("POST", "/console/alerts/{flag_id}/resolution"): ALERT_HANDLERS,
    ("GET", "/console/pending"): PAGE_ROLES["pending"],
    ("GET", "/console/flags"): PAGE_ROLES["flags"],
    ("GET", "/console/flags.csv"): PAGE_ROLES["flags"],
    ("GET", "/console/flags/{flag_id}"): PAGE_ROLES["flags"],
    ("GET", "/console/compliance"): PAGE_ROLES["compliance"],
    ("GET", "/console/audits"): PAGE_ROLES["audits"],
    ("POST", "/console/audits"): AUDIT_JUDGES,
    ("GET", "/console/audits/open"): PAGE_ROLES["audits"],
    ("GET", "/console/audits/{audit_id}"): PAGE_ROLES["audits"],
    ("POST", "/console/audits/{audit_id}/items/{item_no}"): AUDIT_JUDGES,
    ("GET", "/console/audits/{audit_id}/export.csv"): PAGE_ROLES["audits"],
}
FILLERS = {"flag_id": "999999999", "audit_id": str(uuid.UUID(int=7)), "item_no": "1"}


def routes() -> Iterator[tuple[str, str]]:
    """Every (method, path) the console serves, from its own route table (the static files aside)."""
    app = create_app(ConsoleSettings())
    for route in walk(list(app.routes)):
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path


def test_every_console_route_has_an_expectation() -> None:
    served = set(routes())
    assert served - set(EXPECTED) == set(), "a console route is missing from the expectations"
    assert set(EXPECTED) - served == set(), "an expectation names a route the console no longer serves"


async def _signed_in(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        "/console/sign-in", content=f"api_key={key}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": str(client.base_url).rstrip("/")},
    )  # fmt: skip
    assert response.status_code == 303, response.text[:300]
    assert client.cookies.get(COOKIE)


async def _call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    url = path.format(**FILLERS)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": str(client.base_url).rstrip("/")}
    if url.endswith("/stream"):
        async with client.stream(method, url, headers=headers) as response:
            return response  # its status is all that is wanted; the stream is closed unread
    return await client.request(method, url, content="note=matrix&reason=matrix", headers=headers)


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.headers["content-type"].startswith("application/problem+json")


def _wants_sign_in(response: httpx.Response) -> bool:
    return response.status_code == 401 or (
        response.status_code == 303 and response.headers["location"].startswith("/console/sign-in")
    )


CONSOLE_ROLES = [role for role in Role if role is Role.ADMIN or any(role in roles for roles in PAGE_ROLES.values())]


async def test_a_role_with_no_console_page_cannot_sign_in(console_stack: ConsoleStack) -> None:
    for role in set(Role) - set(CONSOLE_ROLES):
        async with httpx.AsyncClient(base_url=console_stack.urls["console"], timeout=10) as client:
            response = await client.post(
                "/console/sign-in", content=f"api_key={console_stack.keys[role]}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert response.status_code == 401, role
            assert "The console has no page for your role" in response.text
            assert not client.cookies.get(COOKIE)


async def test_each_role_is_let_through_or_refused_as_the_table_says(console_stack: ConsoleStack) -> None:
    base = console_stack.urls["console"]
    wrong: list[str] = []
    for caller in [None, "forged", *CONSOLE_ROLES]:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            if caller == "forged":
                client.cookies.set(COOKIE, "not-a-session-anyone-was-given", path="/console")
            elif isinstance(caller, Role):
                await _signed_in(client, console_stack.keys[caller])
            for method, path in EXPECTED:
                if path.endswith("/sign-out") or (method, path) == ("POST", "/console/sign-in"):
                    continue  # they end or start the sign-in itself: tested in test_console.py
                allowed = EXPECTED[(method, path)]
                response = await _call(client, method, path)
                what = f"{caller} {method} {path} → {response.status_code}"
                if response.status_code >= 500:
                    wrong.append(f"{what} (server error)")
                elif allowed is ANYONE:
                    if _refused(response) or response.status_code == 401:
                        wrong.append(f"{what} (needs no sign-in)")
                elif not isinstance(caller, Role):
                    if not _wants_sign_in(response):
                        wrong.append(f"{what} (should ask to sign in)")
                elif caller is Role.ADMIN or caller in allowed:
                    if _refused(response) or _wants_sign_in(response):
                        wrong.append(f"{what} (should be let through)")
                elif not _refused(response):
                    wrong.append(f"{what} (should be refused 403)")
    assert wrong == []


async def test_another_forces_sign_in_sees_none_of_this_forces_audits(console_stack: ConsoleStack) -> None:
    """A sample audit drawn by one force is not found by another force's auditor, in the console as in the API."""
    mine = {"Authorization": f"Bearer {console_stack.keys[Role.AUDITOR]}"}
    async with httpx.AsyncClient(base_url=console_stack.urls["auditor"], timeout=10) as auditor:
        drawn = await auditor.post(
            "/v1/audits",
            json={"period_from": "2026-01-01T00:00:00Z", "period_to": "2026-02-01T00:00:00Z", "size": 5, "seed": 3},
            headers=mine,
        )
    assert drawn.status_code == 201, drawn.text[:300]
    audit_id = drawn.json()["audit_id"]
    async with httpx.AsyncClient(base_url=console_stack.urls["console"], timeout=10) as client:
        await _signed_in(client, console_stack.other_force[Role.AUDITOR])
        for path in (f"/console/audits/{audit_id}", f"/console/audits/{audit_id}/export.csv"):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.status_code)
        await _signed_in(client, console_stack.keys[Role.AUDITOR])
        assert (await client.get(f"/console/audits/{audit_id}")).status_code == 200
