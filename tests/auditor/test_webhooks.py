"""Webhook subscriptions to alerts (issue 5, Alerts for supervisors): signed deliveries to a real receiver on a
loopback port, retried in order with backoff, recorded, suspended when a callback keeps failing, resumed and
deactivated by a supervisor."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from schemas.events import Role
from schemas.webhooks import SignatureError, verify
from services.auditor.alerts.webhooks import DeliveryPolicy, delivery_id
from services.auditor.app import create_app
from services.auditor.rules.flags import Rule, Severity
from services.auditor.settings import AuditorSettings
from services.runtime.database import create_engine
from services.runtime.problems import PROBLEM_JSON
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
from tests.conftest import OTHER_FORCE, Keys, Server
from tests.support import eventually

MAX_FAILURES = 3
TIMEOUT = 2.0


class Names:
    """The auditor's resolver here: test names answer as set (each answer in turn, the last repeating); any other
    name is not known. Nothing is ever looked up on a real DNS server."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}

    def set(self, host: str, *answers: list[str]) -> None:
        self.answers[host] = list(answers)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        if host in ("127.0.0.1",):
            return [host]
        turns = self.answers.get(host)
        if not turns:
            raise OSError(-2, "Name or service not known")
        return turns.pop(0) if len(turns) > 1 else turns[0]


NAMES = Names()


@pytest.fixture(scope="module")
def alert_engines(pg_server: Server, kafka_bootstrap: tuple[str, bool]) -> Iterator[EngineSettings]:
    with own_engines(pg_server, kafka_bootstrap) as engines:
        yield engines


@pytest.fixture(scope="module")
def auditor(alert_engines: EngineSettings) -> Iterator[Served]:
    settings = AuditorSettings(
        engines=alert_engines,
        alert_poll_seconds=0.5,
        webhook_timeout_seconds=TIMEOUT,
        webhook_first_retry_seconds=0.1,
        webhook_max_retry_seconds=0.3,
        webhook_max_failures=MAX_FAILURES,
        webhook_poll_seconds=0.05,
        # Only this machine's receiver, by address or by a test name; 127.0.0.1 alone of the non-public addresses.
        webhook_allowed_hosts=["127.0.0.1", "*.example.test"],
        webhook_allowed_networks=["127.0.0.1/32"],
        webhook_allow_http=True,
    )
    with serve(create_app(settings, resolver=NAMES), "auditor") as served:
        yield served


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hooks = WebhookReceiver()
    with serve(hooks, "receiver") as served:
        yield hooks, served.url


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


async def subscribe(
    client: httpx.AsyncClient, keys: Keys, url: str, *, role: Role = Role.SUPERVISOR, **fields: Any
) -> dict[str, Any]:
    body = {"callback_url": url, "description": "duty inspector's console"} | fields
    response = await client.post("/v1/subscriptions", json=body, headers=keys.auth(role))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def received(hooks: WebhookReceiver, path: str, count: int) -> list[Delivery]:
    """Waits until `path` has had `count` POSTs; returns them."""

    async def enough() -> list[Delivery]:
        got = hooks.at(path)
        assert len(got) >= count, f"{len(got)} of {count}"
        return got

    return await eventually(enough, within=15)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


async def test_each_alert_is_posted_signed_with_the_subscriptions_secret_and_recorded(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    subscription = await subscribe(client, alert_keys, f"{base}/signed")
    assert subscription["status"] == "active" and len(subscription["secret"]) >= 32

    flag = await flags.raise_flag(Rule.HIGH_RISK_CANCELLATION, Severity.HIGH)
    (delivery,) = await received(hooks, "/signed", 1)

    timestamp = delivery.headers["x-crimerec-timestamp"]
    signature = delivery.headers["x-crimerec-signature"]
    assert signature == expected_signature(subscription["secret"], timestamp, delivery.body)
    # What a receiver runs: authentic, and sent within the replay window of its clock.
    assert verify(
        subscription["secret"], delivery.body, timestamp=timestamp, signature=delivery.headers["x-crimerec-signature"]
    ) == int(timestamp)
    with pytest.raises(SignatureError):
        verify("another-secret", delivery.body, timestamp=timestamp, signature=delivery.headers["x-crimerec-signature"])
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["x-crimerec-event"] == "flag.raised"
    assert uuid.UUID(delivery.headers["x-crimerec-delivery"])
    body = delivery.json()
    assert (body["event"], body["flag_id"], body["rule"], body["force"]) == (
        "flag.raised", flag["flag_id"], "HIGH_RISK_CANCELLATION", "GMP",
    )  # fmt: skip

    async def recorded() -> dict[str, Any]:
        response = await client.get(
            f"/v1/subscriptions/{subscription['subscription_id']}", headers=alert_keys.auth(Role.DDM)
        )
        detail: dict[str, Any] = response.json()
        assert detail["last_delivery"] is not None
        return detail

    detail = await eventually(recorded)
    assert "secret" not in detail
    last = detail["last_delivery"]
    assert (last["flag_id"], last["attempt"], last["succeeded"], last["status_code"]) == (flag["flag_id"], 1, True, 204)
    assert last["delivery_id"] == delivery.headers["x-crimerec-delivery"]
    assert detail["delivered_up_to"] >= last["position"] and detail["consecutive_failures"] == 0

    # Sending a flag to another system is a disclosure (DPA 2018 s.62), logged with the recipient.
    async with flags.sessions() as session:
        logged = (
            await session.execute(
                text(
                    "SELECT principal, force, recipient FROM auditor.access_log"
                    " WHERE access = 'disclosure' AND subject_type = 'flag' AND subject_id = :flag"
                ),
                {"flag": str(flag["flag_id"])},
            )
        ).all()
    assert [(r.principal, r.force, r.recipient) for r in logged] == [("system:webhooks", "GMP", "127.0.0.1")]


async def test_a_failed_alert_is_retried_with_the_same_delivery_id_before_any_later_one(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    hooks.fail("/flaky", 2)
    subscription = await subscribe(client, alert_keys, f"{base}/flaky")

    first, second, third = [await flags.raise_flag(Rule.LATE_RECORD, Severity.MEDIUM) for _ in range(3)]
    got = await received(hooks, "/flaky", 5)

    ids = [first["flag_id"]] * 3 + [second["flag_id"], third["flag_id"]]
    assert [(d.json()["flag_id"], d.answered) for d in got] == list(zip(ids, [503, 503, 204, 204, 204], strict=True))
    deliveries = [d.headers["x-crimerec-delivery"] for d in got]
    assert len(set(deliveries[:3])) == 1 and len(set(deliveries)) == 3  # receivers dedupe on it

    detail = (
        await client.get(f"/v1/subscriptions/{subscription['subscription_id']}", headers=alert_keys.auth(Role.FCR))
    ).json()
    attempts = [(d["flag_id"], d["attempt"], d["succeeded"]) for d in reversed(detail["recent_deliveries"])]
    assert attempts == [
        (first["flag_id"], 1, False),
        (first["flag_id"], 2, False),
        (first["flag_id"], 3, True),
        (second["flag_id"], 1, True),
        (third["flag_id"], 1, True),
    ]
    assert detail["recent_deliveries"][-1]["error"] == "answered 503"
    assert detail["status"] == "active" and detail["consecutive_failures"] == 0


async def test_a_callback_that_keeps_failing_is_suspended_shown_as_such_and_resumed_without_loss(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    hooks.fail("/down", 1000)
    subscription = await subscribe(client, alert_keys, f"{base}/down")
    url = f"/v1/subscriptions/{subscription['subscription_id']}"
    supervisor = alert_keys.auth(Role.SUPERVISOR)

    failed = await flags.raise_flag(Rule.MISSING_RECORD, Severity.HIGH)

    async def suspended() -> dict[str, Any]:
        detail: dict[str, Any] = (await client.get(url, headers=supervisor)).json()
        assert detail["status"] == "suspended", detail["status"]
        return detail

    detail = await eventually(suspended, within=15)
    assert detail["consecutive_failures"] == MAX_FAILURES
    assert detail["suspended_reason"] == f"{MAX_FAILURES} consecutive deliveries failed"
    assert detail["suspended_at"] is not None and detail["failing_since"] is not None
    listed = (await client.get("/v1/subscriptions", headers=supervisor)).json()["items"]
    assert [s["status"] for s in listed if s["subscription_id"] == subscription["subscription_id"]] == ["suspended"]

    # Nothing is sent while suspended, not even the alerts raised meanwhile.
    later = await flags.raise_flag(Rule.MISSING_RECORD, Severity.HIGH)
    await asyncio.sleep(0.5)
    assert [d.json()["flag_id"] for d in hooks.at("/down")] == [failed["flag_id"]] * MAX_FAILURES

    hooks.fail("/down", 0)
    resumed = await client.post(f"{url}/resume", headers=supervisor)
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["consecutive_failures"]) == ("active", 0)

    got = await received(hooks, "/down", MAX_FAILURES + 2)
    assert [(d.json()["flag_id"], d.answered) for d in got[MAX_FAILURES:]] == [
        (failed["flag_id"], 204),
        (later["flag_id"], 204),
    ]
    assert got[MAX_FAILURES].headers["x-crimerec-delivery"] == got[0].headers["x-crimerec-delivery"]


async def test_a_deactivated_subscription_gets_nothing_more_and_is_kept(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    subscription = await subscribe(client, alert_keys, f"{base}/retired")
    url = f"/v1/subscriptions/{subscription['subscription_id']}"
    auditor = alert_keys.auth(Role.AUDITOR)
    before = await flags.raise_flag(Rule.DOWNGRADE, Severity.MEDIUM)
    await received(hooks, "/retired", 1)

    deleted = await client.delete(url, headers=auditor)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deactivated" and deleted.json()["deactivated_at"] is not None

    await flags.raise_flag(Rule.DOWNGRADE, Severity.MEDIUM)
    await asyncio.sleep(0.5)
    assert [d.json()["flag_id"] for d in hooks.at("/retired")] == [before["flag_id"]]

    kept = (await client.get(url, headers=auditor)).json()
    assert kept["status"] == "deactivated" and kept["last_delivery"]["flag_id"] == before["flag_id"]
    listed = (await client.get("/v1/subscriptions", headers=auditor)).json()["items"]
    assert subscription["subscription_id"] in {s["subscription_id"] for s in listed}
    refused = await client.post(f"{url}/resume", headers=auditor)
    assert refused.status_code == 409 and refused.headers["content-type"] == PROBLEM_JSON


async def test_only_matching_alerts_of_the_subscribers_force_are_delivered(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    await subscribe(client, alert_keys, f"{base}/picky", rules=["DOWNGRADE", "UNDER_COUNT"], min_severity="high")
    await flags.raise_flag(Rule.DOWNGRADE, Severity.MEDIUM)
    await flags.raise_flag(Rule.MISSING_RECORD, Severity.CRITICAL)
    await flags.raise_flag(Rule.DOWNGRADE, Severity.CRITICAL, force=OTHER_FORCE)
    wanted = [
        await flags.raise_flag(Rule.DOWNGRADE, Severity.HIGH),
        await flags.raise_flag(Rule.UNDER_COUNT, Severity.CRITICAL),
    ]
    # Deliveries go in stream order, so once the last wanted alert is in, anything let through would be too.
    got = await received(hooks, "/picky", 2)
    assert [d.json()["flag_id"] for d in got] == [w["flag_id"] for w in wanted]


async def test_subscriptions_are_validated_and_kept_within_the_force(
    client: httpx.AsyncClient, alert_keys: Keys, receiver: tuple[WebhookReceiver, str]
) -> None:
    _hooks, base = receiver
    supervisor = alert_keys.auth(Role.SUPERVISOR)
    good = {"callback_url": f"{base}/checked", "description": "control room"}
    for bad, field in [
        ({"callback_url": "ftp://example.org/alerts"}, "body.callback_url"),
        ({"callback_url": "javascript:alert(1)"}, "body.callback_url"),
        ({"callback_url": "https://user:pass@example.org/alerts"}, "body.callback_url"),
        ({"callback_url": "https://example.org/" + "a" * 2000}, "body.callback_url"),
        ({"rules": []}, "body.rules"),
        ({"rules": ["NOT_A_RULE"]}, "body.rules.0"),
        ({"min_severity": "urgent"}, "body.min_severity"),
        ({"description": ""}, "body.description"),
        ({"secret": "mine"}, "body.secret"),
    ]:
        response = await client.post("/v1/subscriptions", json=good | bad, headers=supervisor)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM_JSON
        assert field in {e["field"] for e in response.json()["errors"]}, (bad, response.json())

    assert (await client.post("/v1/subscriptions", json=good)).status_code == 401
    assert (await client.post("/v1/subscriptions", json=good, headers=alert_keys.auth(Role.OFFICER))).status_code == 403

    ours = await subscribe(client, alert_keys, f"{base}/checked", role=Role.ADMIN)
    url = f"/v1/subscriptions/{ours['subscription_id']}"
    theirs = alert_keys.auth(Role.SUPERVISOR, other=True)
    assert (await client.get(url, headers=theirs)).status_code == 404
    assert (await client.delete(url, headers=theirs)).status_code == 404
    assert (await client.post(f"{url}/resume", headers=theirs)).status_code == 404
    their_list = (await client.get("/v1/subscriptions", headers=theirs)).json()["items"]
    assert ours["subscription_id"] not in {s["subscription_id"] for s in their_list}
    our_list = (await client.get("/v1/subscriptions", headers=supervisor)).json()["items"]
    assert all("secret" not in s and s["force"] == "GMP" for s in our_list)

    # Pages, oldest first, and a filter by status.
    first = (await client.get("/v1/subscriptions", headers=supervisor, params={"limit": 1})).json()
    assert [s["subscription_id"] for s in first["items"]] == [our_list[0]["subscription_id"]]
    second = await client.get(
        "/v1/subscriptions", headers=supervisor, params={"limit": 1, "after": first["next_after"]}
    )
    assert [s["subscription_id"] for s in second.json()["items"]] == [our_list[1]["subscription_id"]]
    active = (await client.get("/v1/subscriptions", headers=supervisor, params={"status": "active"})).json()["items"]
    assert ours["subscription_id"] in {s["subscription_id"] for s in active}
    assert {s["status"] for s in active} == {"active"}


async def latest(client: httpx.AsyncClient, keys: Keys, subscription: dict[str, Any], attempts: int) -> dict[str, Any]:
    """A subscription's detail once it has recorded `attempts` delivery attempts."""

    async def recorded() -> dict[str, Any]:
        url = f"/v1/subscriptions/{subscription['subscription_id']}"
        detail: dict[str, Any] = (await client.get(url, headers=keys.auth(Role.SUPERVISOR))).json()
        assert len(detail["recent_deliveries"]) >= attempts, detail["recent_deliveries"]
        return detail

    return await eventually(recorded, within=20)


async def disclosures(flags: FlagRaiser, flag_id: int, subscription: dict[str, Any]) -> list[str]:
    """The recipients the access log says a flag was disclosed to by one subscription's deliveries."""
    async with flags.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT recipient FROM auditor.access_log"
                " WHERE access = 'disclosure' AND subject_type = 'flag' AND subject_id = :flag"
                " AND starts_with(detail, :webhook) ORDER BY id"
            ),
            {"flag": str(flag_id), "webhook": f"webhook {subscription['subscription_id']},"},
        )
    return [r.recipient for r in rows]


async def test_a_callback_off_the_allow_list_or_resolving_to_a_refused_address_cannot_be_subscribed(
    client: httpx.AsyncClient, alert_keys: Keys
) -> None:
    supervisor = alert_keys.auth(Role.SUPERVISOR)
    NAMES.set("internal.example.test", ["10.1.2.3"])
    NAMES.set("metadata.example.test", ["127.0.0.1", "169.254.169.254"])
    NAMES.set("loopback.example.test", ["127.0.0.5"])
    refused = {
        "https://example.org/alerts": "host 'example.org' is not on the auditor's webhook allow-list",
        "http://127.0.0.2:9/alerts": "host '127.0.0.2' is not on the auditor's webhook allow-list",
        "http://localhost:9/alerts": "host 'localhost' is not on the auditor's webhook allow-list",
        "http://internal.example.test/a": "host 'internal.example.test' resolves to 10.1.2.3 is a private address",
        "http://metadata.example.test/a": "resolves to 169.254.169.254 is a link-local address",
        "http://loopback.example.test/a": "resolves to 127.0.0.5 is a loopback address",
        "http://unknown.example.test/a": "host 'unknown.example.test' does not resolve",
    }
    for url, reason in refused.items():
        body = {"callback_url": url, "description": "not allowed"}
        response = await client.post("/v1/subscriptions", json=body, headers=supervisor)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON
        problem = response.json()
        assert problem["title"] == "Webhook destination not allowed"
        [error] = problem["errors"]
        assert error["field"] == "body.callback_url" and reason in error["message"], (url, error)
    listed = (await client.get("/v1/subscriptions", headers=supervisor, params={"limit": 500})).json()["items"]
    assert not {s["callback_url"] for s in listed} & set(refused)  # nothing half-stored


async def test_a_delivery_goes_to_the_address_checked_and_a_name_rebound_inside_is_refused_before_sending(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    port = base.rsplit(":", 1)[1]
    # Only the auditor's resolver knows this name: delivering by it proves the connection went to the address checked.
    NAMES.set("hooks.example.test", ["127.0.0.1"])
    named = await subscribe(client, alert_keys, f"http://hooks.example.test:{port}/named")
    flag = await flags.raise_flag(Rule.LATE_RECORD, Severity.HIGH)
    (delivery,) = await received(hooks, "/named", 1)
    assert delivery.headers["host"] == f"hooks.example.test:{port}" and delivery.json()["flag_id"] == flag["flag_id"]
    assert (await latest(client, alert_keys, named, 1))["last_delivery"]["succeeded"] is True
    assert await disclosures(flags, flag["flag_id"], named) == ["hooks.example.test"]

    # The name checks out when subscribed, then re-resolves (DNS rebinding) to an address that is not allowed: the
    # deliverer checks again on connecting and refuses. (127.0.0.2 is loopback, off the allow-list, and no one
    # listens there: nothing leaves the machine even if the check were broken, and the error would then differ.)
    NAMES.set("rebind.example.test", ["127.0.0.1"], ["127.0.0.2"])
    rebound = await subscribe(client, alert_keys, f"http://rebind.example.test:{port}/rebound")
    flag = await flags.raise_flag(Rule.LATE_RECORD, Severity.HIGH)
    detail = await latest(client, alert_keys, rebound, 1)
    attempt = detail["recent_deliveries"][-1]
    assert (attempt["flag_id"], attempt["succeeded"], attempt["status_code"]) == (flag["flag_id"], False, None)
    assert attempt["error"] == (
        "destination refused: host 'rebind.example.test' resolves to 127.0.0.2 is a loopback address and its "
        "network is not allow-listed"
    )
    assert hooks.at("/rebound") == []
    assert await disclosures(flags, flag["flag_id"], rebound) == []  # nothing was sent: no disclosure


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    hooks.redirect("/moved", f"{base}/elsewhere")
    subscription = await subscribe(client, alert_keys, f"{base}/moved")
    flag = await flags.raise_flag(Rule.DOWNGRADE, Severity.HIGH)
    detail = await latest(client, alert_keys, subscription, 1)
    attempt = detail["recent_deliveries"][-1]
    assert (attempt["flag_id"], attempt["succeeded"], attempt["status_code"]) == (flag["flag_id"], False, 307)
    assert attempt["error"] == "answered 307"
    assert [d.answered for d in hooks.at("/moved")][:1] == [307] and hooks.at("/elsewhere") == []


async def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt_and_retried(
    client: httpx.AsyncClient, alert_keys: Keys, flags: FlagRaiser, receiver: tuple[WebhookReceiver, str]
) -> None:
    hooks, base = receiver
    hooks.stall("/slow", TIMEOUT + 1)
    subscription = await subscribe(client, alert_keys, f"{base}/slow")
    flag = await flags.raise_flag(Rule.UNDER_COUNT, Severity.HIGH)
    detail = await latest(client, alert_keys, subscription, 2)
    attempts = [(d["flag_id"], d["attempt"], d["succeeded"], d["error"]) for d in reversed(detail["recent_deliveries"])]
    assert attempts[:2] == [
        (flag["flag_id"], 1, False, f"no answer within {TIMEOUT:g} s"),
        (flag["flag_id"], 2, True, None),
    ]
    # The body may have reached the receiver before it went quiet: both attempts are logged as disclosures.
    assert (await disclosures(flags, flag["flag_id"], subscription))[:2] == ["127.0.0.1", "127.0.0.1"]


def test_retries_back_off_doubling_to_a_ceiling_and_suspend_after_too_many_or_too_long() -> None:
    policy = DeliveryPolicy(
        timeout_seconds=5, first_retry_seconds=2, max_retry_seconds=60, max_failures=10, max_failing_seconds=3600,
        poll_seconds=1, concurrency=8,
    )  # fmt: skip
    assert [policy.retry_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.suspension(9, timedelta(minutes=10)) is None
    assert policy.suspension(10, timedelta(minutes=10)) == "10 consecutive deliveries failed"
    assert policy.suspension(2, timedelta(hours=2)) == "deliveries have failed for 7200 s"


def test_a_delivery_id_is_the_same_for_every_attempt_at_one_alert_and_differs_between_alerts() -> None:
    subscription = uuid.uuid4()
    assert delivery_id(subscription, 7) == delivery_id(subscription, 7)
    assert len({delivery_id(subscription, 7), delivery_id(subscription, 8), delivery_id(uuid.uuid4(), 7)}) == 3
