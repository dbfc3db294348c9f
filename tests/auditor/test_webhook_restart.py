"""The webhook retry queue survives a restart (issue 22): a delivery that failed and waits for its retry is kept in
PostgreSQL (the subscription's delivered position and next attempt), not in the process; an auditor started afresh
on the same database delivers it, exactly once, and then what came after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from schemas.events import Role
from services.auditor.app import create_app
from services.auditor.rules.flags import Rule, Severity
from services.auditor.settings import AuditorSettings
from services.runtime.database import create_engine
from services.runtime.settings import EngineSettings
from tests.auditor.alert_servers import (
    Delivery,
    FlagRaiser,
    Served,
    WebhookReceiver,
    auditor_client,
    issue_keys,
    own_engines,
    serve,
)
from tests.conftest import Keys, Server
from tests.support import LOOPBACK_WEBHOOKS, eventually


def settings_for(engines: EngineSettings) -> AuditorSettings:
    return AuditorSettings(
        engines=engines,
        alert_poll_seconds=0.2,
        webhook_timeout_seconds=2,
        webhook_first_retry_seconds=0.2,
        webhook_max_retry_seconds=0.5,
        webhook_max_failures=10_000,  # it must still be trying when it is stopped
        webhook_poll_seconds=0.05,
        **LOOPBACK_WEBHOOKS,
    )


async def received(hooks: WebhookReceiver, path: str, count: int) -> list[Delivery]:
    async def enough() -> list[Delivery]:
        got = hooks.at(path)
        assert len(got) >= count, f"{len(got)} of {count}"
        return got

    # Long enough for a lease left by a process that died mid-delivery to run out (timeout * 4 + 30 s).
    return await eventually(enough, within=60)


async def queue_row(flags: FlagRaiser, subscription_id: str) -> Any:
    async with flags.sessions() as session:
        return (
            await session.execute(
                text(
                    "SELECT status, delivered_seq, consecutive_failures, next_attempt_at, lease_token"
                    " FROM auditor.alert_subscriptions WHERE subscription_id = :id"
                ),
                {"id": subscription_id},
            )
        ).one()


async def stream_position(flags: FlagRaiser, flag_id: int) -> int:
    async with flags.sessions() as session:
        seq = await session.scalar(
            text("SELECT min(seq) FROM auditor.alert_stream WHERE flag_id = :flag"), {"flag": flag_id}
        )
    assert isinstance(seq, int)
    return seq


async def attempts_at(flags: FlagRaiser, subscription_id: str) -> list[tuple[int, int, bool]]:
    async with flags.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT flag_id, attempt, succeeded FROM auditor.alert_deliveries"
                " WHERE subscription_id = :id ORDER BY id"
            ),
            {"id": subscription_id},
        )
    return [(r.flag_id, r.attempt, r.succeeded) for r in rows]


@pytest.fixture(scope="module")
def engines(pg_server: Server, kafka_bootstrap: tuple[str, bool]) -> Iterator[EngineSettings]:
    with own_engines(pg_server, kafka_bootstrap) as settings:  # a database no other auditor delivers from
        yield settings


@pytest.fixture(scope="module")
async def flags(engines: EngineSettings) -> AsyncIterator[FlagRaiser]:
    engine = create_engine(engines)
    yield FlagRaiser(engine, engines)
    await engine.dispose()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hooks = WebhookReceiver()
    with serve(hooks, "receiver") as served:
        yield hooks, served.url


async def subscribe(served: Served, keys: Keys, url: str) -> str:
    async with auditor_client(served) as client:
        created = await client.post(
            "/v1/subscriptions",
            json={"callback_url": url, "description": "restart test"},
            headers=keys.auth(Role.SUPERVISOR),
        )
    assert created.status_code == 201, created.text
    sid: str = created.json()["subscription_id"]
    return sid


async def test_a_pending_delivery_is_delivered_exactly_once_by_the_auditor_started_after_a_restart(
    engines: EngineSettings, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    hooks.fail("/pending", 1_000_000)
    keys = await issue_keys(engines)
    with serve(create_app(settings_for(engines)), "auditor-before") as before:
        sid = await subscribe(before, keys, f"{base}/pending")
        pending = await flags.raise_flag(Rule.MISSING_RECORD, Severity.HIGH)
        await received(hooks, "/pending", 1)
    # The auditor is gone; its failed delivery waits in PostgreSQL for its retry.
    failed = hooks.at("/pending")
    assert {(d.json()["flag_id"], d.answered) for d in failed} == {(pending["flag_id"], 503)}
    row = await queue_row(flags, sid)
    assert row.status == "active" and row.consecutive_failures >= 1 and row.next_attempt_at is not None
    assert row.delivered_seq < await stream_position(flags, pending["flag_id"])
    hooks.fail("/pending", 0)

    with serve(create_app(settings_for(engines)), "auditor-after"):
        later = await flags.raise_flag(Rule.MISSING_RECORD, Severity.HIGH)
        # In stream order: once the later alert is in, the pending one can never be sent again.
        await received(hooks, "/pending", len(failed) + 2)
    after = [(d.json()["flag_id"], d.answered) for d in hooks.at("/pending")[len(failed) :]]
    assert after == [(pending["flag_id"], 204), (later["flag_id"], 204)]
    # Every attempt at the pending alert carried one delivery id, so a receiver could dedupe on it too.
    pending_posts = [d for d in hooks.at("/pending") if d.json()["flag_id"] == pending["flag_id"]]
    assert len({d.headers["x-crimerec-delivery"] for d in pending_posts}) == 1

    # The record: failed attempts before the restart, then one success, numbered on across the restart.
    recorded = await attempts_at(flags, sid)
    tries = [(n, ok) for flag_id, n, ok in recorded if flag_id == pending["flag_id"]]
    assert len(tries) >= 2
    assert tries == [(n, False) for n in range(1, len(tries))] + [(len(tries), True)]
    assert [(n, ok) for flag_id, n, ok in recorded if flag_id == later["flag_id"]] == [(1, True)]
    row = await queue_row(flags, sid)
    assert (row.consecutive_failures, row.next_attempt_at, row.lease_token) == (0, None, None)
