"""The service clock: wall clock by default, simulated time only where a simulation put it, and the
`Crimerec-Simulated-Time` header honoured only by a service started for a simulation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.events import Role
from services.runtime import clock
from services.runtime.middleware import SimulatedTime
from services.runtime.problems import PROBLEM_JSON
from tests.conftest import Keys, Services
from tests.support import contact, idempotency_key

HEADER = "Crimerec-Simulated-Time"
FIELD = "header.crimerec-simulated-time"
SIMULATED = datetime(2016, 3, 14, 10, 4, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_simulation_leaks() -> Iterator[None]:
    """Every test starts and ends on the wall clock: simulated time never outlives its block or request."""
    assert not clock.simulating()
    yield
    assert not clock.simulating()


def around_wall_clock(at: datetime, before: datetime, after: datetime) -> bool:
    return at.tzinfo is not None and at.utcoffset() == timedelta(0) and before <= at <= after


# ------------------------------------------------------------------------------------------------------ clock.py


def test_outside_a_simulation_now_is_the_wall_clock_in_utc() -> None:
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert around_wall_clock(now, before, after)
    assert not clock.simulating()


def test_inside_a_simulation_now_is_the_simulated_time_and_it_ends_with_the_block() -> None:
    with clock.simulated(SIMULATED):
        assert clock.simulating()
        assert clock.now() == SIMULATED
        assert clock.now() == SIMULATED  # it does not run on by itself
    assert not clock.simulating()
    assert clock.now().year == datetime.now(UTC).year


def test_simulated_time_given_in_another_zone_is_read_back_in_utc() -> None:
    bst = timezone(timedelta(hours=1))
    with clock.simulated(datetime(2016, 7, 1, 9, 0, tzinfo=bst)):
        now = clock.now()
    assert now == datetime(2016, 7, 1, 8, 0, tzinfo=UTC)
    assert now.utcoffset() == timedelta(0)
    assert now.hour == 8  # the same instant, and also written as UTC


def test_simulated_time_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"), clock.simulated(datetime(2016, 3, 14, 10, 0)):
        pass  # pragma: no cover - never entered
    assert not clock.simulating()


def test_nested_simulations_restore_the_outer_time_even_after_an_error() -> None:
    inner = SIMULATED + timedelta(days=3)
    with clock.simulated(SIMULATED):
        with pytest.raises(RuntimeError), clock.simulated(inner):
            assert clock.now() == inner
            raise RuntimeError("handler failed")
        assert clock.now() == SIMULATED
    assert not clock.simulating()


def test_an_event_is_handled_at_its_own_time_only_in_a_simulation() -> None:
    occurred = datetime(2016, 3, 14, 10, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    live = clock.when_handling(occurred)
    after = datetime.now(UTC)
    assert around_wall_clock(live, before, after)  # live: reacting now, however old the event
    with clock.simulated(occurred + timedelta(hours=5)):  # e.g. a batch handled at its latest event's time
        assert clock.when_handling(occurred) == occurred


async def test_concurrent_tasks_keep_their_own_simulated_time() -> None:
    # Two requests (or two events) in flight at once must not see each other's time, nor one on the wall clock.
    async def at(when: datetime | None, together: asyncio.Barrier) -> tuple[bool, datetime]:
        if when is None:
            await together.wait()
            return clock.simulating(), clock.now()
        with clock.simulated(when):
            await together.wait()  # the other task is inside its own block now
            return clock.simulating(), clock.now()

    first, second = SIMULATED, SIMULATED + timedelta(days=400)
    pair = asyncio.Barrier(2)
    assert list(await asyncio.gather(at(first, pair), at(second, pair))) == [(True, first), (True, second)]

    pair = asyncio.Barrier(2)
    before = datetime.now(UTC)
    (simulating, when), (wall_simulating, wall) = await asyncio.gather(at(first, pair), at(None, pair))
    assert (simulating, when) == (True, first)
    assert not wall_simulating and around_wall_clock(wall, before, datetime.now(UTC))


# ------------------------------------------------------------------------------------------------------ middleware


def tiny_app(*, enabled: bool) -> tuple[SimulatedTime, list[datetime]]:
    """An app that answers with the time its endpoint sees, behind SimulatedTime; and the times it saw."""
    seen: list[datetime] = []

    async def what_time(request: Request) -> JSONResponse:
        seen.append(clock.now())
        return JSONResponse({"now": clock.now().isoformat(), "simulating": clock.simulating()})

    return SimulatedTime(Starlette(routes=[Route("/now", what_time)]), enabled=enabled), seen


async def ask(app: SimulatedTime, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/now", headers=headers or {})


def assert_refused(response: httpx.Response) -> dict[str, object]:
    """A 400 problem that names the header; its body."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == 400
    assert body["title"] == "Invalid simulated time"
    assert body["instance"] == "/now"
    assert HEADER in str(body["detail"])
    errors = body["errors"]
    assert isinstance(errors, list) and [e["field"] for e in errors] == [FIELD]
    assert all(e["message"] for e in errors)
    return body


@pytest.mark.parametrize("value", [SIMULATED.isoformat(), "not a time at all"])
async def test_a_service_on_the_wall_clock_refuses_the_header(value: str) -> None:
    app, seen = tiny_app(enabled=False)
    body = assert_refused(await ask(app, {HEADER: value}))
    assert "wall clock" in str(body["detail"])
    assert seen == []  # the request never reached the endpoint


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="words"),
        pytest.param("1457949870", id="epoch-seconds"),
        pytest.param("2016-03-14T10:04:30", id="naive"),
        pytest.param("2016-03-14", id="date-only"),
        pytest.param("2016-13-14T10:04:30Z", id="month-13"),
        pytest.param("1850-03-14T10:04:30Z", id="out-of-range"),
    ],
)
async def test_a_simulating_service_refuses_a_header_that_is_not_an_aware_timestamp(value: str) -> None:
    app, seen = tiny_app(enabled=True)
    body = assert_refused(await ask(app, {HEADER: value}))
    assert "timezone" in str(body["detail"])
    assert seen == []


@pytest.mark.parametrize(
    "value",
    ["2016-03-14T10:04:30Z", "2016-03-14T10:04:30+00:00", "2016-03-14T11:04:30+01:00", "2016-03-14T05:04:30-05:00"],
)
async def test_a_simulating_service_runs_the_request_at_the_header_time(value: str) -> None:
    app, seen = tiny_app(enabled=True)
    response = await ask(app, {HEADER: value})
    assert response.status_code == 200, response.text
    assert seen == [SIMULATED]
    assert response.json() == {"now": SIMULATED.isoformat(), "simulating": True}


@pytest.mark.parametrize("enabled", [True, False])
async def test_without_the_header_a_request_runs_on_the_wall_clock(enabled: bool) -> None:
    app, seen = tiny_app(enabled=enabled)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        if enabled:  # a simulated request first: its time must not stay behind for the next one
            assert (await client.get("/now", headers={HEADER: SIMULATED.isoformat()})).status_code == 200
        before = datetime.now(UTC)
        response = await client.get("/now")
        after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    assert response.json()["simulating"] is False
    assert around_wall_clock(seen[-1], before, after)


# ------------------------------------------------------------------------------------------------------ services


@pytest.mark.parametrize("service", ["intake", "recorder", "auditor"])
async def test_the_services_as_normally_started_refuse_the_header(services: Services, service: str) -> None:
    client: httpx.AsyncClient = getattr(services, service)
    response = await client.get("/healthz", headers={HEADER: SIMULATED.isoformat()})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == [FIELD]


async def test_a_contact_sent_with_a_simulated_time_to_a_live_intake_is_not_stored(
    services: Services, keys: Keys
) -> None:
    body = contact(source={"system": "STORM", "reference": f"INC-{uuid.uuid4().hex[:12]}"})
    response = await services.intake.post(
        "/v1/contacts",
        json=body,
        headers=keys.auth(Role.CALL_HANDLER) | idempotency_key() | {HEADER: SIMULATED.isoformat()},
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [FIELD]
    found = await services.intake.get(
        "/v1/contacts",
        params={"source_system": "STORM", "source_reference": body["source"]["reference"]},
        headers=keys.auth(Role.OFFICER),
    )
    assert found.status_code == 404, found.text
