"""The simulation driver's own logic, without a stack: idempotent requests tried again on a broken connection."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from crimerec.simulation.driver import BARRIER, _again
from crimerec.simulation.plan import LIMIT, Profile, plan


async def test_an_idempotent_request_is_tried_again_when_its_connection_breaks() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadError("connection closed by the server", request=request)
        return httpx.Response(201, json={"contact_id": "c"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://test") as client:
        response = await _again(lambda: client.post("/v1/contacts", json={}))
    assert (response.status_code, calls) == (201, 2)


async def test_a_connection_that_keeps_breaking_fails_after_three_tries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadError("connection closed by the server", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://test") as client:
        with pytest.raises(httpx.ReadError):
            await _again(lambda: client.get("/v1/contacts/c/decision"))
    assert calls == 3


async def test_an_idempotent_request_the_server_failed_is_tried_again_and_its_last_answer_kept() -> None:
    statuses = iter([500, 503, 201, 500, 500, 500])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://test") as client:
        assert (await _again(lambda: client.post("/v1/contacts", json={}))).status_code == 201
        assert (await _again(lambda: client.post("/v1/contacts", json={}))).status_code == 500


def test_every_decision_that_meets_its_deadline_is_made_a_barrier_or_more_before_it() -> None:
    # The driver's barriers are safe only if no record meets a deadline less than BARRIER after it is made.
    the_plan = plan(Profile.load("gmp-2016"), seed=3, force="GMP", start=datetime(2016, 3, 1, tzinfo=UTC), days=3,
                    run="t")  # fmt: skip
    margins = [
        the_plan.contacts[s.contact].received_at + LIMIT - s.at
        for s in the_plan.steps
        if s.kind == "decide" and s.at <= the_plan.contacts[s.contact].received_at + LIMIT
    ]
    assert margins and min(margins) >= BARRIER
