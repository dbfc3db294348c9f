"""`crimerec up` as a user runs it: separate processes on real ports, driven over HTTP.

One `up` per engine mode is shared by the tests of this module, which run in the order written (the last one stops
and restarts it):

- external: `--database-url` and `--kafka-bootstrap` point at the session's engines (a fresh database, a fresh topic
  prefix), as in CI;
- embedded: no URLs, so `up` starts its own PostgreSQL (in the data dir) and its own Tansu broker.

Besides HTTP, the tests look into the database and the broker only to count (rows, records, committed offsets,
dead letters). Two tests at the end start `up` on their own: demo keys on another database, and a second SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from crimerec.embedded import EmbeddedPostgres, free_port
from schemas import topics
from schemas.envelope import Envelope
from services.runtime.database import asyncpg_dsn
from tests.conftest import Server, create_database, drop_database
from tests.support import contact, eventually

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "recorder", "auditor")
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0

# Consumer group (before the topic prefix) → the topics it reads.
GROUPS = {
    "recorder.contacts": (topics.CONTACTS,),
    "auditor.projection": (topics.CONTACTS, topics.RECORDS),
    "intake.decisions": (topics.RECORDS,),
}

# What the tests count before and after something that must change nothing.
COUNTS = {
    "intake.contacts": "SELECT count(*) FROM intake.contacts",
    "intake.contacts decided": "SELECT count(*) FROM intake.contacts WHERE outcome IS NOT NULL",
    "intake.outbox": "SELECT count(*) FROM intake.outbox",
    "intake.inbox": "SELECT count(*) FROM intake.inbox",
    "recorder.contacts": "SELECT count(*) FROM recorder.contacts",
    "recorder.decisions": "SELECT count(*) FROM recorder.decisions",
    "recorder.crimes": "SELECT count(*) FROM recorder.crimes",
    "recorder.outbox": "SELECT count(*) FROM recorder.outbox",
    "recorder.inbox": "SELECT count(*) FROM recorder.inbox",
    "auditor.contacts": "SELECT count(*) FROM auditor.contacts",
    "auditor.crimes": "SELECT count(*) FROM auditor.crimes",
    "auditor.outbox": "SELECT count(*) FROM auditor.outbox",
    "auditor.inbox": "SELECT count(*) FROM auditor.inbox",
}


# `python -m crimerec`, except that Ctrl-C works even when this test run inherited SIGINT ignored (a run in the
# background of a non-interactive shell does, and Python then keeps it ignored in every child).
CRIMEREC = [
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('crimerec', run_name='__main__', alter_sys=True)",
]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({exc})"


@dataclass
class Up:
    """One `crimerec up` process and what it says about itself (services.json, demo-keys.json)."""

    mode: str
    data_dir: Path
    env: dict[str, str]
    args: list[str]
    kafka_bootstrap: str
    topic_prefix: str
    idempotence: bool
    database_url: str | None = None  # embedded: known once PostgreSQL runs
    process: subprocess.Popen[bytes] | None = None
    urls: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    log_start: int = 0  # where this start's output begins in up.log (a restart appends)

    # ------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Runs `crimerec up` and waits until every service answers /readyz and `up` says it is running."""
        with open(self.data_dir / "up.log", "ab") as log:
            self.log_start = log.tell()
            self.process = subprocess.Popen(
                [*CRIMEREC, "up", *self.args],
                env=self.env,
                cwd=self.data_dir.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(timeout=2, trust_env=False) as client:
            while not self._ready(client):
                if self.process.poll() is not None:
                    self.fail(f"`crimerec up` exited with code {self.process.returncode} while starting")
                if time.monotonic() > deadline:
                    self.kill()
                    self.fail(f"`crimerec up` not ready within {READY_TIMEOUT:.0f} s")
                time.sleep(0.3)
        if self.mode == "embedded":
            self.database_url = EmbeddedPostgres(self.data_dir).server_url()

    def _ready(self, client: httpx.Client) -> bool:
        with open(self.data_dir / "up.log", "rb") as log:
            log.seek(self.log_start)
            if b"crimerec is running" not in log.read():  # the banner: `up` has seen the services ready too
                return False
        state_file, keys_file = self.data_dir / "services.json", self.data_dir / "demo-keys.json"
        if not state_file.exists() or not keys_file.exists():
            return False
        try:
            state = json.loads(state_file.read_text())
            self.keys = json.loads(keys_file.read_text())
        except json.JSONDecodeError:
            return False  # caught half-written
        self.urls = {name: state[name]["url"] for name in SERVICES}
        for url in self.urls.values():
            try:
                if client.get(f"{url}/readyz").status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
        return True

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> dict[str, int]:
        """The service pids `up` wrote down (it rewrites them when it restarts a service)."""
        for _ in range(50):
            try:
                state = json.loads((self.data_dir / "services.json").read_text())
                break
            except json.JSONDecodeError:  # caught while being rewritten
                time.sleep(0.02)
        return {name: int(state[name]["pid"]) for name in SERVICES}

    def stop(self, sig: signal.Signals = signal.SIGINT, *, times: int = 1) -> None:
        """Ctrl-C (or SIGTERM), as a user or a service manager stops it; then nothing it started may be left running.

        With `times` > 1 the signal is repeated while it stops, as an impatient user does (a repeat that lands once
        everything has stopped may end the process by the signal itself, which is fine).
        """
        assert self.process is not None
        if not self.running:
            self.fail(f"`crimerec up` is no longer running (exit code {self.process.returncode})")
        descendants = psutil.Process(self.process.pid).children(recursive=True)
        service_pids = self.pids()
        assert set(service_pids.values()) <= {p.pid for p in descendants}, (service_pids, descendants)
        self.process.send_signal(sig)
        for _ in range(times - 1):
            time.sleep(0.05)
            if self.running:
                self.process.send_signal(sig)
        try:
            code = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.fail(f"`crimerec up` did not stop within {STOP_TIMEOUT:.0f} s of {sig.name}")
        deadline = time.monotonic() + 10  # a grace period for whatever is still on its way out
        while (leftovers := [p for p in descendants if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if leftovers:
            for proc in leftovers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            self.fail(f"`crimerec up` left processes running: {[(p.pid, p.cmdline()) for p in leftovers]}")
        if self.mode == "embedded" and EmbeddedPostgres(self.data_dir).is_running():
            EmbeddedPostgres(self.data_dir).stop()
            self.fail("`crimerec up` left its embedded PostgreSQL running")
        assert code == 0 or (times > 1 and code == -sig), f"`crimerec up` exited with {code} after {sig.name}"
        assert not (self.data_dir / "services.json").exists(), "services.json outlived the services"

    def kill(self) -> None:
        """Last resort: SIGKILL `up` and everything it started (a no-op once it has stopped by itself)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                for proc in psutil.Process(self.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.kill()
            self.process.kill()
            self.process.wait()
        if self.mode == "embedded":  # not our child: pg_ctl daemonizes it
            with contextlib.suppress(Exception):
                EmbeddedPostgres(self.data_dir).stop()

    def logs(self) -> str:
        parts = [f"--- {self.data_dir / 'up.log'}\n{_tail(self.data_dir / 'up.log')}"]
        for path in [*sorted((self.data_dir / "logs").glob("*.log")), self.data_dir / "kafka.log"]:
            if path.exists():
                parts.append(f"--- {path}\n{_tail(path)}")
        return "\n".join(parts)

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n{self.logs()}", pytrace=False)

    # ------------------------------------------------------------------------------------------- helpers

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def _env() -> dict[str, str]:
    # Nothing of the caller's crimerec settings leaks in (CI sets CRIMEREC_DATABASE_URL).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEREC_")}
    return env | {"CRIMEREC_KAFKA_SESSION_TIMEOUT_MS": "2000", "CRIMEREC_KAFKA_HEARTBEAT_INTERVAL_MS": "300"}


def _args(data_dir: Path) -> list[str]:
    args = ["--data-dir", str(data_dir), "--no-feed"]
    for name in (*SERVICES, "console"):
        args += [f"--{name}-port", str(free_port())]
    return args


def external_up(data_dir: Path, database_url: str, kafka: tuple[str, bool]) -> Up:
    """`up` on a database and a broker that run already (a fresh topic prefix on the broker)."""
    bootstrap, embedded_broker = kafka
    prefix = f"e2e{uuid.uuid4().hex[:6]}."
    env = _env() | {"CRIMEREC_TOPIC_PREFIX": prefix}
    if embedded_broker:
        env["CRIMEREC_KAFKA_ENABLE_IDEMPOTENCE"] = "false"
    args = [*_args(data_dir), "--database-url", database_url, "--kafka-bootstrap", bootstrap]
    return Up("external", data_dir, env, args, bootstrap, prefix, not embedded_broker, database_url)


def embedded_up(data_dir: Path) -> Up:
    """`up` with no URLs: it starts PostgreSQL (in the data dir) and a broker itself."""
    kafka_port = free_port()
    args = [*_args(data_dir), "--kafka-port", str(kafka_port)]
    return Up("embedded", data_dir, _env(), args, f"127.0.0.1:{kafka_port}", "", False)


@pytest.fixture(scope="module", params=["external", "embedded"])
def up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`crimerec up --no-feed` on free ports and a fresh data dir, in one engine mode; stopped with Ctrl-C."""
    data_dir = tmp_path_factory.mktemp(f"up-{request.param}")
    server = None
    if request.param == "external":
        server = request.getfixturevalue("pg_server")
        database_url = create_database(server, prefix="crimerec_e2e")
        system = external_up(data_dir, database_url, request.getfixturevalue("kafka_bootstrap"))
    else:
        system = embedded_up(data_dir)
    try:
        system.start()
        yield system
        system.stop()
    finally:
        system.kill()  # a no-op unless something above failed
        if server is not None and system.database_url:
            drop_database(server, system.database_url)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15, trust_env=False) as client:
        yield client


# ------------------------------------------------------------------------------------------------- helpers


def contact_with(victims: int) -> dict[str, Any]:
    """A valid contact with `victims` identified victims, one assault on each (so that many crimes)."""
    body = contact()
    victim, offence = body["victims"][0], body["offences"][0]
    refs = [f"V{i + 1}" for i in range(victims)]
    return contact(
        victims=[victim | {"ref": ref, "name": f"Victim {ref}"} for ref in refs],
        offences=[offence | {"victim_ref": ref} for ref in refs],
    )


async def get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    """GET, with a service that is down (being restarted) as a failed check rather than an error."""
    try:
        return await http.get(url, headers=headers)
    except httpx.TransportError as exc:
        raise AssertionError(f"GET {url}: {exc!r}") from exc


async def post_contact(http: httpx.AsyncClient, up: Up, body: dict[str, Any]) -> str:
    headers = up.auth("call_handler") | {"Idempotency-Key": uuid.uuid4().hex}
    response = await http.post(f"{up.urls['intake']}/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact_id"]
    return contact_id


async def decision_of(http: httpx.AsyncClient, up: Up, contact_id: str, within: float = 60) -> dict[str, Any]:
    async def decided() -> dict[str, Any] | None:
        r = await get(http, f"{up.urls['recorder']}/v1/contacts/{contact_id}/decision", up.auth("officer"))
        assert r.status_code in (200, 404), r.text
        return r.json() if r.status_code == 200 else None

    return await eventually(decided, within=within, interval=0.2)


async def audited(http: httpx.AsyncClient, up: Up, contact_id: str, within: float = 60) -> dict[str, Any]:
    async def recorded() -> dict[str, Any] | None:
        r = await get(http, f"{up.urls['auditor']}/v1/contacts/{contact_id}", up.auth("auditor"))
        assert r.status_code in (200, 404), r.text
        return r.json() if r.status_code == 200 and r.json()["status"] == "recorded" else None

    return await eventually(recorded, within=within, interval=0.2)


async def all_crimes(http: httpx.AsyncClient, up: Up) -> list[dict[str, Any]]:
    """Every crime record of the force, page by page."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500} | ({"after": after} if after else {})
        r = await http.get(f"{up.urls['recorder']}/v1/crimes", params=params, headers=up.auth("officer"))
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        after = page["next_after"]
        if after is None:
            return items


def assert_gapless(references: list[str]) -> None:
    """Crime reference numbers are unique and run 1, 2, 3, … without gaps within each force and year."""
    assert len(set(references)) == len(references), "duplicate crime references"
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for reference in references:
        force, year, number = reference.split("-")
        numbers[(force, year)].append(int(number))
    for key, seen in numbers.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), f"gaps in {key}: {sorted(seen)}"


async def query(up: Up, sql: str, *args: object) -> list[asyncpg.Record]:
    assert up.database_url is not None
    conn = await asyncpg.connect(asyncpg_dsn(up.database_url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def counts(up: Up) -> dict[str, int]:
    return {name: (await query(up, sql))[0][0] for name, sql in COUNTS.items()}


async def unpublished(up: Up) -> int:
    rows = await query(
        up,
        "SELECT (SELECT count(*) FROM intake.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM recorder.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM auditor.outbox WHERE published_at IS NULL)",
    )
    return int(rows[0][0])


Records = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


async def read_topics(up: Up, names: list[str]) -> Records:
    """Every record of the topics (full names), from the beginning, without a consumer group.

    Reads until the topics are drained instead of trusting the broker's end offsets: Tansu 0.6 (memory storage)
    answers ListOffsets(latest) with the number of produce *batches* a partition received, not of records (the
    relays send batches of several records), so it reports less than the partition holds.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=up.kafka_bootstrap, client_id="e2e-reader", enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic
        parts = []
        for name in names:
            found = consumer.partitions_for_topic(name)
            assert found, f"no topic {name}"
            parts += [TopicPartition(name, p) for p in sorted(found)]
        reported = await consumer.end_offsets(parts)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: Records = {tp: [] for tp in parts}
        async with asyncio.timeout(30):
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, batch in batches.items():
                    records[tp] += batch
                if not batches and all([await consumer.position(tp) >= end for tp, end in reported.items()]):
                    return records
    finally:
        await consumer.stop()


async def record_count(up: Up) -> int:
    """How many records our topics hold, all partitions together."""
    return sum(len(batch) for batch in (await read_topics(up, [up.topic(name) for name in topics.ALL])).values())


async def consumer_lag(up: Up) -> dict[str, int]:
    """Per consumer group: records on its topics that it has not committed (so not handled) yet."""
    records = await read_topics(up, [up.topic(topics.CONTACTS), up.topic(topics.RECORDS)])
    ends = {tp: batch[-1].offset + 1 if batch else 0 for tp, batch in records.items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=up.kafka_bootstrap, client_id="e2e-lag")
    await admin.start()
    try:
        lags = {}
        for group, names in GROUPS.items():
            parts = [tp for tp in ends if tp.topic in {up.topic(name) for name in names}]
            committed = await admin.list_consumer_group_offsets(up.topic_prefix + group, partitions=parts)
            lags[group] = sum(
                max(ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset > 0 else 0), 0)
                for tp in parts
            )
        return lags
    finally:
        await admin.close()


async def settled(up: Up, within: float = 90) -> None:
    """Every outbox published and every consumer group caught up with its topics."""

    async def check() -> bool:
        assert await unpublished(up) == 0, "outbox rows not yet published"
        try:
            lag = await consumer_lag(up)
        except (KafkaError, TimeoutError) as exc:  # e.g. a group coordinator not there yet after a restart
            raise AssertionError(f"cannot read the consumer groups yet: {exc!r}") from exc
        assert not any(lag.values()), f"consumers behind: {lag}"
        return True

    await eventually(check, within=within, interval=0.5)


# --------------------------------------------------------------------------------------------------- tests


async def test_a_contact_posted_over_http_is_recorded_and_audited(up: Up, http: httpx.AsyncClient) -> None:
    body = contact_with(victims=2)
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    first = await http.post(f"{up.urls['intake']}/v1/contacts", json=body, headers=up.auth("call_handler") | key)
    assert first.status_code == 201, first.text
    contact_id = first.json()["contact_id"]
    again = await http.post(f"{up.urls['intake']}/v1/contacts", json=body, headers=up.auth("call_handler") | key)
    assert again.status_code == 201, again.text
    assert again.json()["contact_id"] == contact_id  # the same key and body: the first answer

    decision = await decision_of(http, up, contact_id)
    assert decision["outcome"] == "recorded"
    references = decision["crime_references"]
    assert len(references) == 2
    assert all(ref.startswith("GMP-") for ref in references)

    listed = await http.get(
        f"{up.urls['recorder']}/v1/crimes", params={"contact_id": contact_id}, headers=up.auth("officer")
    )
    assert listed.status_code == 200, listed.text
    assert sorted(c["crime_reference"] for c in listed.json()["items"]) == sorted(references)
    for reference in references:
        crime = await http.get(f"{up.urls['recorder']}/v1/crimes/{reference}", headers=up.auth("officer"))
        assert crime.status_code == 200, crime.text
        assert crime.json()["ho_class"] == "8N"
        assert crime.json()["contact_id"] == contact_id

    view = await audited(http, up, contact_id)
    assert view["expected_crimes"] == 2
    assert view["outcome"] == "recorded"
    assert sorted(c["crime_reference"] for c in view["recorded_crimes"]) == sorted(references)

    async def intake_decided() -> dict[str, Any] | None:
        r = await get(http, f"{up.urls['intake']}/v1/contacts/{contact_id}", up.auth("officer"))
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] == "decided" else None

    seen = await eventually(intake_decided, within=30)
    assert sorted(seen["crime_references"]) == sorted(references)

    # Every route but health needs a credential, over the wire too.
    anonymous = await http.get(f"{up.urls['recorder']}/v1/crimes/{references[0]}")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


async def test_killing_the_recorder_while_contacts_flow_loses_and_duplicates_nothing(
    up: Up, http: httpx.AsyncClient
) -> None:
    total, burst, kill_after = 60, 3, 21
    killed = up.pids()["recorder"]
    victims: dict[str, int] = {}  # contact_id → offences posted (so crimes expected)
    for start in range(0, total, burst):
        bodies = [contact_with(victims=(start + i) % 3 + 1) for i in range(burst)]
        ids = await asyncio.gather(*(post_contact(http, up, body) for body in bodies))
        victims |= {cid: len(body["offences"]) for cid, body in zip(ids, bodies, strict=True)}
        if start == kill_after:
            os.kill(killed, signal.SIGKILL)  # just as the recorder gets this burst
        await asyncio.sleep(0.05)

    async def restarted() -> bool:
        assert up.pids()["recorder"] != killed, "the supervisor has not restarted the recorder"
        return True

    await eventually(restarted, within=30)
    assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == psutil.STATUS_ZOMBIE

    decisions: dict[str, dict[str, Any]] = {}

    async def all_decided() -> bool:
        for cid in [c for c in victims if c not in decisions]:
            r = await get(http, f"{up.urls['recorder']}/v1/contacts/{cid}/decision", up.auth("officer"))
            if r.status_code == 200:
                decisions[cid] = r.json()
        assert len(decisions) == total, f"{total - len(decisions)} of {total} contacts not decided"
        return True

    await eventually(all_decided, within=120, interval=0.5)

    references: list[str] = []
    for cid, offences in victims.items():
        assert decisions[cid]["outcome"] == "recorded"
        assert len(decisions[cid]["crime_references"]) == offences, (cid, decisions[cid])
        references += decisions[cid]["crime_references"]
    assert len(set(references)) == len(references) == sum(victims.values())

    views: dict[str, dict[str, Any]] = {}

    async def all_audited() -> bool:
        for cid in [c for c in victims if c not in views]:
            r = await get(http, f"{up.urls['auditor']}/v1/contacts/{cid}", up.auth("auditor"))
            if r.status_code == 200 and r.json()["status"] == "recorded":
                views[cid] = r.json()
        assert len(views) == total, f"{total - len(views)} of {total} contacts not audited as recorded"
        return True

    await eventually(all_audited, within=60, interval=0.5)
    for cid, view in views.items():
        assert view["expected_crimes"] == victims[cid]
        assert sorted(c["crime_reference"] for c in view["recorded_crimes"]) == sorted(
            decisions[cid]["crime_references"]
        )

    # Over HTTP: the force's whole sequence of references has no gaps and no repeats.
    crimes = await all_crimes(http, up)
    assert_gapless([c["crime_reference"] for c in crimes])
    by_contact: dict[str, int] = defaultdict(int)
    for crime in crimes:
        by_contact[crime["contact_id"]] += 1
    assert {cid: by_contact[cid] for cid in victims} == victims

    # In the database: one contact.received per contact; one crime.recorded per crime and one contact.decided.
    await settled(up)
    uuids = [uuid.UUID(cid) for cid in victims]
    keys = list(victims)
    assert await query(up, "SELECT count(*) FROM recorder.decisions WHERE contact_id = ANY($1)", uuids) == [(total,)]
    crime_rows = await query(
        up, "SELECT contact_id::text, count(*) FROM recorder.crimes WHERE contact_id = ANY($1) GROUP BY 1", uuids
    )
    assert dict(crime_rows) == victims
    intake_events = await query(up, "SELECT key, count(*) FROM intake.outbox WHERE key = ANY($1) GROUP BY 1", keys)
    assert dict(intake_events) == dict.fromkeys(victims, 1)
    recorder_events = await query(up, "SELECT key, count(*) FROM recorder.outbox WHERE key = ANY($1) GROUP BY 1", keys)
    assert dict(recorder_events) == {cid: n + 1 for cid, n in victims.items()}
    audited_rows = await query(
        up, "SELECT contact_id::text, count(*) FROM auditor.crimes WHERE contact_id = ANY($1) GROUP BY 1", uuids
    )
    assert dict(audited_rows) == victims
    intake_rows = await query(
        up, "SELECT count(*) FROM intake.contacts WHERE contact_id = ANY($1) AND outcome = 'recorded'", uuids
    )
    assert intake_rows == [(total,)]


async def test_republishing_every_outbox_changes_nothing_downstream(up: Up, http: httpx.AsyncClient) -> None:
    ids = [await post_contact(http, up, contact_with(victims=1)) for _ in range(3)]
    for cid in ids:
        await audited(http, up, cid)
    await settled(up)
    before = await counts(up)
    records_before = await record_count(up)
    retained = before["intake.outbox"] + before["recorder.outbox"] + before["auditor.outbox"]

    command = [*CRIMEREC, "outbox", "republish"]
    command += ["--database-url", str(up.database_url), "--kafka-bootstrap", up.kafka_bootstrap]
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        env=up.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{retained} events" in done.stdout, done.stdout

    await settled(up)
    assert await record_count(up) - records_before == retained  # every retained event went out again
    assert await counts(up) == before  # and nobody did anything twice

    # Still working afterwards: one more contact goes all the way through, adding exactly its own rows.
    cid = await post_contact(http, up, contact_with(victims=1))
    decision = await decision_of(http, up, cid)
    assert len(decision["crime_references"]) == 1
    await audited(http, up, cid)
    await settled(up)
    after = await counts(up)
    # (Outboxes and inboxes grow by however many events a contact makes; the records it makes are fixed.)
    grown = {n: after[n] - before[n] for n in COUNTS if not n.endswith(("outbox", "inbox"))}
    assert grown == {
        "intake.contacts": 1,
        "intake.contacts decided": 1,
        "recorder.contacts": 1,
        "recorder.decisions": 1,
        "recorder.crimes": 1,
        "auditor.contacts": 1,
        "auditor.crimes": 1,
    }


async def test_malformed_events_go_to_the_dlq_and_the_next_good_one_is_processed(
    up: Up, http: httpx.AsyncClient
) -> None:
    topic = up.topic(topics.CONTACTS)
    marker = uuid.uuid4().hex
    not_an_envelope = Envelope(
        event_type="contact.received",
        producer="e2e-test",
        contact_id=uuid.uuid4(),
        correlation_id=uuid.uuid4(),
        payload={"marker": marker},  # an envelope, but no ContactReceived payload
    )
    garbage = [
        b"\x00\xff not json " + marker.encode(),
        json.dumps({"hello": marker}).encode(),
        not_an_envelope.model_dump_json().encode(),
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=up.kafka_bootstrap, acks="all", enable_idempotence=up.idempotence, client_id="e2e-garbage"
    )
    await producer.start()
    try:
        # Bad records ahead of the good contact on every partition, whichever one its key lands on.
        parts = sorted(await producer.partitions_for(topic))
        for partition in parts:
            for value in garbage:
                await producer.send_and_wait(topic, value, key=f"garbage-{partition}".encode(), partition=partition)
    finally:
        await producer.stop()
    decided_before = (await counts(up))["recorder.decisions"]

    cid = await post_contact(http, up, contact_with(victims=1))
    decision = await decision_of(http, up, cid)
    assert decision["outcome"] == "recorded"
    await audited(http, up, cid)
    await settled(up)
    assert (await counts(up))["recorder.decisions"] == decided_before + 1  # garbage decided nothing

    expected = sorted((partition, value) for partition in parts for value in garbage)

    async def both_dead_lettered_each_once() -> bool:
        # Re-read until it holds: one drain of the topic can stop short (a fetch that answers nothing for a moment
        # under load, and Tansu's end offsets count batches, not records), so a single read proves nothing.
        dead: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        dead_letters = await read_topics(up, [topics.dead_letter(topic)])
        for record in [record for batch in dead_letters.values() for record in batch]:
            if record.value not in garbage:
                continue
            headers = {k: v.decode() for k, v in record.headers}
            assert headers["dlq.error"], headers
            assert headers["dlq.original_topic"] == topic
            dead[headers["dlq.consumer"]].append((int(headers["dlq.original_partition"]), record.value))
        # Both consumers of the contacts topic dead-lettered each bad record once, and went on.
        assert sorted(dead["recorder.contacts"]) == expected
        assert sorted(dead["auditor.projection"]) == expected
        return True

    await eventually(both_dead_lettered_each_once, within=60, interval=1)


async def test_running_up_again_keeps_the_data(up: Up, http: httpx.AsyncClient) -> None:
    cid = await post_contact(http, up, contact_with(victims=1))
    decision = await decision_of(http, up, cid)
    (reference,) = decision["crime_references"]
    await audited(http, up, cid)
    await settled(up)
    crimes_before = sorted(c["crime_reference"] for c in await all_crimes(http, up))
    before = await counts(up)

    await asyncio.to_thread(up.stop, signal.SIGTERM)  # as a service manager stops it
    await asyncio.to_thread(up.start)  # the same data dir, ports and keys

    # What was recorded is still there, in all three services.
    again = await decision_of(http, up, cid, within=10)
    assert again["crime_references"] == [reference]
    crime = await http.get(f"{up.urls['recorder']}/v1/crimes/{reference}", headers=up.auth("officer"))
    assert crime.status_code == 200, crime.text
    view = await audited(http, up, cid, within=10)
    assert [c["crime_reference"] for c in view["recorded_crimes"]] == [reference]

    # The embedded broker came back empty and was re-seeded from the outboxes with what some group had not handled:
    # every contact and record had been (settled), so only the alerts, read outside crimerec, went out again.
    if up.mode == "embedded" and before["auditor.outbox"]:
        resent = f"re-seeded the broker with {before['auditor.outbox']} retained events not yet handled by all"
        assert resent in (up.data_dir / "up.log").read_text()
    await settled(up)
    assert sorted(c["crime_reference"] for c in await all_crimes(http, up)) == crimes_before
    assert await counts(up) == before

    # And the sequence goes on from where it was.
    cid = await post_contact(http, up, contact_with(victims=1))
    (next_reference,) = (await decision_of(http, up, cid))["crime_references"]
    assert_gapless([*crimes_before, next_reference])
    await audited(http, up, cid)


class DemoKeyRefusedError(AssertionError):
    """A key from demo-keys.json is refused by the services of the same `up`."""


def test_demo_keys_work_on_the_database_up_runs_on(
    pg_server: Server, kafka_bootstrap: tuple[str, bool], tmp_path: Path
) -> None:
    """The keys the banner shows (and demo-keys.json holds) are valid on the database of this run.

    The same data dir with another `--database-url` (say, first embedded, later the force's test server) is a normal
    thing to do; keys read back from the first run's file are unknown to the second database.
    """
    databases = [create_database(pg_server, prefix="crimerec_e2e") for _ in range(2)]
    try:
        for run, database_url in enumerate(databases, start=1):
            system = external_up(tmp_path, database_url, kafka_bootstrap)
            try:
                system.start()
                with httpx.Client(timeout=10, trust_env=False) as client:
                    response = client.get(f"{system.urls['recorder']}/v1/crimes", headers=system.auth("officer"))
                system.stop()
            finally:
                system.kill()
            if run == 1:
                assert response.status_code == 200, response.text  # a fresh data dir: keys issued just now
            elif response.status_code != 200:
                raise DemoKeyRefusedError(f"the demo officer key of the data dir is refused: {response.text}")
    finally:
        for database_url in databases:
            drop_database(pg_server, database_url)


def test_a_second_sigterm_while_stopping_still_stops_cleanly(
    pg_server: Server, kafka_bootstrap: tuple[str, bool], tmp_path: Path
) -> None:
    database_url = create_database(pg_server, prefix="crimerec_e2e")
    system = external_up(tmp_path, database_url, kafka_bootstrap)
    try:
        system.start()
        system.stop(signal.SIGTERM, times=2)
    finally:
        system.kill()
        drop_database(pg_server, database_url)
