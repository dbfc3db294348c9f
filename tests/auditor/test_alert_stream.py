"""The supervisors' alert stream (issue 5, Alerts for supervisors), over real TCP from an auditor under uvicorn:
flags arrive as they are raised, filtered by rule and severity, only the caller's force, and a screen that
reconnects with Last-Event-ID gets everything it missed and nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from schemas.events import Role
from services.auditor.alerts import jobs as alert_jobs
from services.auditor.app import create_app
from services.auditor.rules.flags import Rule, Severity
from services.auditor.settings import AuditorSettings
from services.runtime.auth import issue_key
from services.runtime.database import create_engine
from services.runtime.problems import PROBLEM_JSON
from services.runtime.settings import EngineSettings
from tests.auditor.alert_servers import (
    FlagRaiser,
    Served,
    auditor_client,
    issue_keys,
    open_stream,
    own_engines,
    running_app,
    serve,
)
from tests.conftest import FORCE, OTHER_FORCE, Keys, Server
from tests.support import eventually


@pytest.fixture(scope="module")
def alert_engines(pg_server: Server, kafka_bootstrap: tuple[str, bool]) -> Iterator[EngineSettings]:
    with own_engines(pg_server, kafka_bootstrap) as engines:
        yield engines


@pytest.fixture(scope="module")
def auditor(alert_engines: EngineSettings) -> Iterator[Served]:
    settings = AuditorSettings(engines=alert_engines, alert_poll_seconds=0.5, alert_ping_seconds=0.5)
    with serve(create_app(settings), "auditor") as served:
        yield served


@pytest.fixture(scope="module")
async def alert_keys(alert_engines: EngineSettings) -> Keys:
    return await issue_keys(alert_engines)


@pytest.fixture(scope="module")
async def flags(alert_engines: EngineSettings) -> AsyncIterator[FlagRaiser]:
    engine = create_engine(alert_engines)
    yield FlagRaiser(engine, alert_engines)
    await engine.dispose()


@pytest.fixture
async def client(auditor: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with auditor_client(auditor) as http:
        yield http


async def test_a_flag_arrives_on_an_open_stream_as_it_is_raised_and_again_as_it_changes(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser
) -> None:
    async with open_stream(client, alert_keys.auth(Role.SUPERVISOR)) as stream:
        flag = await flags.raise_flag(Rule.HIGH_RISK_CANCELLATION, Severity.HIGH)

        raised = await stream.next_event()
        assert raised.event == "flag.raised"
        body = raised.json()
        assert (body["flag_id"], body["rule"], body["severity"], body["force"], body["status"]) == (
            flag["flag_id"], "HIGH_RISK_CANCELLATION", "high", FORCE, "open",
        )  # fmt: skip
        assert body["explanation"] == "HIGH_RISK_CANCELLATION raised by a test."
        assert raised.id is not None and int(raised.id) > 0

        await flags.acknowledge(flag["flag_id"])
        updated = await stream.next_event()
        assert updated.event == "flag.updated"
        assert (updated.json()["flag_id"], updated.json()["status"]) == (flag["flag_id"], "acknowledged")
        assert updated.id is not None and int(updated.id) > int(raised.id)


@pytest.mark.parametrize("role", [Role.DDM, Role.FCR, Role.AUDITOR, Role.ADMIN])
async def test_designated_decision_makers_registrars_auditors_and_admins_may_follow_it_too(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, role: Role
) -> None:
    async with open_stream(client, alert_keys.auth(role)) as stream:
        flag = await flags.raise_flag(Rule.LATE_RECORD, Severity.MEDIUM)
        assert (await stream.next_event()).json()["flag_id"] == flag["flag_id"]


async def test_only_the_rules_and_severities_asked_for_are_sent(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser
) -> None:
    query = [("rule", "HIGH_RISK_CANCELLATION"), ("rule", "DOWNGRADE"), ("min_severity", "high")]
    async with open_stream(client, alert_keys.auth(Role.SUPERVISOR), params=query) as stream:
        # Raised first, so that one let through would arrive before the wanted ones.
        await flags.raise_flag(Rule.HIGH_RISK_CANCELLATION, Severity.MEDIUM)
        await flags.raise_flag(Rule.MISSING_RECORD, Severity.CRITICAL)
        high = await flags.raise_flag(Rule.HIGH_RISK_CANCELLATION, Severity.HIGH)
        critical = await flags.raise_flag(Rule.DOWNGRADE, Severity.CRITICAL)

        got = [(await stream.next_event()).json() for _ in range(2)]
        assert [(g["flag_id"], g["rule"], g["severity"]) for g in got] == [
            (high["flag_id"], "HIGH_RISK_CANCELLATION", "high"),
            (critical["flag_id"], "DOWNGRADE", "critical"),
        ]


async def test_a_screen_that_reconnects_with_last_event_id_gets_what_it_missed_in_order_and_nothing_twice(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser
) -> None:
    supervisor = alert_keys.auth(Role.SUPERVISOR)
    async with open_stream(client, supervisor) as stream:
        await flags.raise_flag(Rule.UNDER_COUNT, Severity.MEDIUM)
        last_seen = (await stream.next_event()).id
    assert last_seen is not None

    # The screen is away while these are raised.
    missed = [await flags.raise_flag(Rule.UNDER_COUNT, Severity.MEDIUM) for _ in range(3)]

    async with open_stream(client, supervisor | {"Last-Event-ID": last_seen}) as stream:
        caught_up = [await stream.next_event() for _ in range(3)]
        assert [e.json()["flag_id"] for e in caught_up] == [m["flag_id"] for m in missed]
        assert [int(e.id or 0) for e in caught_up] == sorted(int(e.id or 0) for e in caught_up)

        live = await flags.raise_flag(Rule.UNDER_COUNT, Severity.MEDIUM)
        assert (await stream.next_event()).json()["flag_id"] == live["flag_id"]

    # The same from the query string (for clients that cannot set the header).
    async with open_stream(client, supervisor, params={"last_event_id": caught_up[0].id}) as stream:
        again = [(await stream.next_event()).json()["flag_id"] for _ in range(3)]
        assert again == [missed[1]["flag_id"], missed[2]["flag_id"], live["flag_id"]]


async def test_an_alert_committed_after_a_later_one_is_still_sent_and_in_stream_order(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser
) -> None:
    async with open_stream(client, alert_keys.auth(Role.SUPERVISOR)) as stream:
        async with flags.open_transaction() as slow:
            early = await flags.raise_flag(Rule.CANCELLATION_WITHOUT_GROUNDS, Severity.HIGH, uow=slow)
            late = await flags.raise_flag(Rule.CANCELLATION_WRONG_AUTHORITY, Severity.HIGH)
            # The later position is committed and visible now; a stream that read past it would never send `early`.
            await asyncio.sleep(0.5)
        got = [(await stream.next_event()).json()["flag_id"] for _ in range(2)]
        assert got == [early["flag_id"], late["flag_id"]]


async def test_another_forces_alerts_never_appear(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser
) -> None:
    ours_auth, theirs_auth = alert_keys.auth(Role.SUPERVISOR), alert_keys.auth(Role.SUPERVISOR, other=True)
    async with open_stream(client, ours_auth) as ours, open_stream(client, theirs_auth) as theirs:
        mps = await flags.raise_flag(Rule.DOWNGRADE, Severity.CRITICAL, force=OTHER_FORCE)
        gmp = await flags.raise_flag(Rule.DOWNGRADE, Severity.CRITICAL, force=FORCE)
        assert (await ours.next_event()).json()["flag_id"] == gmp["flag_id"]
        assert (await theirs.next_event()).json()["flag_id"] == mps["flag_id"]

    # Replaying GMP's whole stream from the start shows no MPS alert either.
    async with open_stream(client, ours_auth, params={"last_event_id": 0}) as replay:
        while True:
            body = (await replay.next_event()).json()
            assert body["force"] == FORCE and body["flag_id"] != mps["flag_id"]
            if body["flag_id"] == gmp["flag_id"]:
                break


async def test_the_stream_sends_keep_alive_comments_while_quiet(client: httpx.AsyncClient, alert_keys: Keys) -> None:
    async with open_stream(client, alert_keys.auth(Role.SUPERVISOR)) as stream:
        assert (await stream.next_comment()).startswith("ping")


async def test_a_stream_connection_and_the_flags_it_sent_are_logged_as_consultations(
    client: httpx.AsyncClient, flags: FlagRaiser
) -> None:
    key = await issue_key(flags.engine, roles=[Role.FCR], force=FORCE, label="consults once")
    key_id = key.split("_", 2)[1]
    fcr = {"Authorization": f"Bearer {key}"}
    async with open_stream(client, fcr, params={"rule": "RAPE_WITHOUT_N100"}) as stream:
        flag = await flags.raise_flag(Rule.RAPE_WITHOUT_N100, Severity.CRITICAL)
        await stream.next_event()

    async with flags.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT access, subject_type, subject_id, detail FROM auditor.access_log"
                    " WHERE principal = :p ORDER BY id"
                ),
                {"p": key_id},
            )
        ).all()
    assert [(r.access, r.subject_type, r.subject_id) for r in rows] == [
        ("consultation", "alert_stream", FORCE),
        ("consultation", "flag", str(flag["flag_id"])),
    ]
    assert "rules=RAPE_WITHOUT_N100" in rows[0].detail


async def test_a_closed_stream_leaves_nothing_behind(
    client: httpx.AsyncClient, alert_keys: Keys, auditor: Served
) -> None:
    feed = alert_jobs.alert_feed(running_app(auditor).state.runtime)
    before = feed.subscribers

    async def attached(count: int) -> bool:
        return feed.subscribers == count

    async with open_stream(client, alert_keys.auth(Role.SUPERVISOR)):
        await eventually(lambda: attached(before + 1), within=5)
    await eventually(lambda: attached(before), within=5)


async def test_the_stream_needs_a_supervisor_of_the_force_and_says_what_was_wrong(
    client: httpx.AsyncClient, alert_keys: Keys
) -> None:
    unauthenticated = await client.get("/v1/alerts/stream")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == PROBLEM_JSON

    for role in (Role.OFFICER, Role.CALL_HANDLER):
        refused = await client.get("/v1/alerts/stream", headers=alert_keys.auth(role))
        assert refused.status_code == 403, role

    supervisor = alert_keys.auth(Role.SUPERVISOR)
    bad_resume = await client.get("/v1/alerts/stream", headers=supervisor | {"Last-Event-ID": "yesterday"})
    assert bad_resume.status_code == 422
    assert bad_resume.json()["errors"] == [{"field": "header.last-event-id", "message": "must be a whole number"}]
    for query in ({"min_severity": "urgent"}, {"rule": "NOT_A_RULE"}, {"last_event_id": "-1"}):
        invalid = await client.get("/v1/alerts/stream", headers=supervisor, params=query)
        assert invalid.status_code == 422, query
        assert invalid.headers["content-type"] == PROBLEM_JSON
