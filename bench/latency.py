"""Contact → crime record latency: from POST /v1/contacts to the recorder's decision being readable.

    .venv/bin/python bench/latency.py [--idle 50] [--rate 200] [--seconds 10] [--wait-seconds 5]

Runs intake and recorder as processes and measures, each in its own phase:

1. the first contact after the services report ready (it may wait for the consumer group to form);
2. `--idle` contacts one at a time on an otherwise idle stack;
3. contacts at a steady `--rate` a second for `--seconds` (target: p99 under 50 ms);
4. the same rate with `Prefer: wait=N`: how long a call handler waits for the crime references in the answer, and
   how many answers carried them (`Preference-Applied`);
5. the same-run reference: one event at a time through the broker alone (produce acks=all → a group consumer),
   with the services' fetch wait and with aiokafka's default 500 ms, the wait that held every hop before.

"Readable" is the recorder's decision row committed (the transaction that also stages its events): the bench
LISTENs on the recorder's outbox channel, which that commit notifies, and looks up which contacts it decided; every
contact is then read back through the recorder's API to check it really is readable. The load comes from the lean
client of `_wire.py`, paced open-loop (a slow answer does not slow the arrivals).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, services_running
from _wire import Pool, request
from intake import contact_body

from crimerec import stack
from schemas.events import Role
from services.runtime.database import asyncpg_dsn
from services.runtime.settings import EngineSettings

console = Console(width=110)


@dataclass
class Phase:
    """Latencies (seconds) measured in one phase, and what went wrong."""

    name: str
    latencies: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # POST → its 201
    errors: int = 0
    missing: int = 0
    applied: int | None = None

    def pct(self, p: int) -> float:
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[min(len(ms) - 1, int(len(ms) * p / 100))] if ms else float("nan")


class DecisionWatch:
    """When each contact's decision was committed in the recorder, seen through LISTEN on its outbox channel."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.waiting: dict[uuid.UUID, asyncio.Future[float]] = {}
        self._wake = asyncio.Event()

    def expect(self, contact_id: uuid.UUID) -> asyncio.Future[float]:
        future = self.waiting[contact_id] = asyncio.get_running_loop().create_future()
        self._wake.set()  # its decision may have committed before we knew the id
        return future

    async def run(self) -> None:
        listener = await asyncpg.connect(self.dsn)
        reader = await asyncpg.connect(self.dsn)
        await listener.add_listener("recorder_outbox", lambda *_: self._wake.set())
        try:
            while True:
                # A short poll too, in case a decision committed between an id's arrival and the look-up.
                with _suppress_timeout():
                    async with asyncio.timeout(0.05):
                        await self._wake.wait()
                self._wake.clear()
                if not self.waiting:
                    continue
                rows = await reader.fetch(
                    "SELECT contact_id FROM recorder.decisions WHERE contact_id = ANY($1::uuid[])", list(self.waiting)
                )
                seen = time.perf_counter()
                for row in rows:
                    future = self.waiting.pop(row["contact_id"])
                    if not future.done():
                        future.set_result(seen)
        finally:
            await listener.close()
            await reader.close()


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is TimeoutError


async def one_contact(pool: Pool, watch: DecisionWatch, token: str, phase: Phase, prefer: float | None) -> None:
    """Posts a contact; notes how long until its decision was readable (or, with `prefer`, in the answer)."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    if prefer is not None:
        headers["Prefer"] = f"wait={prefer:g}"
    raw = request("POST", pool.port, "/v1/contacts", body=contact_body(), headers=headers)
    started = time.perf_counter()
    response = await pool.send(raw)
    answered = time.perf_counter()
    phase.answers.append(answered - started)
    if response.status != 201:
        phase.errors += 1
        return
    body = response.json()
    if prefer is not None:
        if "wait" in response.headers.get("preference-applied", "") and body.get("crime_references"):
            phase.applied = (phase.applied or 0) + 1
            phase.latencies.append(answered - started)
        return
    try:
        decided = await asyncio.wait_for(watch.expect(uuid.UUID(body["contact_id"])), timeout=30)
    except TimeoutError:
        phase.missing += 1
        return
    phase.latencies.append(max(decided, answered) - started)


async def steady(pool: Pool, watch: DecisionWatch, token: str, phase: Phase, *, rate: float, seconds: float,
                 prefer: float | None = None) -> None:  # fmt: skip
    """Contacts at `rate` a second for `seconds`, each started on time whatever the others are doing."""
    tasks = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one_contact(pool, watch, token, phase, prefer)))
    await asyncio.gather(*tasks)
    if prefer is not None:
        phase.applied = phase.applied or 0


async def measure(port: int, dsn: str, token: str, args: argparse.Namespace) -> list[Phase]:
    watch = DecisionWatch(dsn)
    watcher = asyncio.create_task(watch.run())
    pool = await Pool(port, 64).open()
    phases = [Phase("first contact after ready"), Phase(f"idle, one at a time ({args.idle})")]
    try:
        await asyncio.sleep(0.5)  # the watch is listening
        await one_contact(pool, watch, token, phases[0], None)
        for _ in range(args.idle):
            await one_contact(pool, watch, token, phases[1], None)
        loaded = Phase(f"{args.rate:g} contacts/s for {args.seconds:g} s")
        console.print(f"{loaded.name}…")
        await steady(pool, watch, token, loaded, rate=args.rate, seconds=args.seconds)
        phases.append(loaded)
        waited = Phase(f"Prefer: wait={args.wait_seconds:g} at {args.rate:g}/s: POST → answer with the crimes")
        console.print(f"{waited.name}…")
        await steady(pool, watch, token, waited, rate=args.rate, seconds=args.seconds, prefer=args.wait_seconds)
        phases.append(waited)
    finally:
        pool.close()
        watcher.cancel()
    return phases


async def broker_hop(engines: EngineSettings, *, fetch_max_wait_ms: int, n: int = 50) -> Phase:
    """The same-run reference: one event at a time, produced with acks=all and read by a consumer in a group, with
    the given broker-side fetch wait (the services' setting, or aiokafka's default of 500 ms)."""
    topic = engines.topic(f"latency-probe-{fetch_max_wait_ms}")
    await ensure_topics_named(engines, topic)
    phase = Phase(f"reference: bare broker hop, fetch wait {fetch_max_wait_ms} ms")
    producer = AIOKafkaProducer(bootstrap_servers=engines.kafka_bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=engines.kafka_bootstrap, group_id=f"probe-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest", fetch_max_wait_ms=fetch_max_wait_ms, enable_auto_commit=False,
    )  # fmt: skip
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=50)
        await asyncio.sleep(0.5)
        for _ in range(n):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"x", key=b"k")
            while not await consumer.getmany(timeout_ms=1000):
                pass
            phase.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
        await producer.stop()
    return phase


async def ensure_topics_named(engines: EngineSettings, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=engines.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


async def all_readable(port: int, dsn: str, token: str) -> tuple[int, int]:
    """Every decided contact read back through the recorder's API: (read, of how many)."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [r["contact_id"] for r in await conn.fetch("SELECT contact_id FROM recorder.decisions")]
    finally:
        await conn.close()
    pool = await Pool(port, 8).open()
    try:
        auth = {"Authorization": f"Bearer {token}"}
        answers = await asyncio.gather(
            *(pool.send(request("GET", port, f"/v1/contacts/{cid}/decision", headers=auth)) for cid in ids)
        )
    finally:
        pool.close()
    return sum(a.status == 200 for a in answers), len(ids)


STAGES = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM o.published_at - o.created_at)),
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM i.processed_at - o.published_at)),
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM d.decided_at - i.processed_at))
FROM intake.outbox o
JOIN recorder.inbox i ON i.event_id = o.event_id
JOIN intake.contacts c ON c.event_id = o.event_id
JOIN recorder.decisions d ON d.contact_id = c.contact_id
"""


async def stages(dsn: str) -> list[tuple[str, list[float]]]:
    """Where the time went, from the rows' own timestamps (each a transaction's start, by now()): intake's commit →
    the relay's run; the relay's run → the recorder's transaction; that transaction → its decision."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(STAGES)
    finally:
        await conn.close()
    names = ("intake commit → relay picks it up", "relay → recorder's transaction (broker, fetch)",
             "recorder's transaction → decided_at")  # fmt: skip
    return [(name, [x * 1000 for x in (row[i] or [])]) for i, name in enumerate(names)]


def report(phases: list[Phase], readable: tuple[int, int]) -> None:
    table = Table(title="contact → crime record (POST to the recorder's decision readable)")
    for column in ("phase", "n", "p50 ms", "p99 ms", "max ms", "POST → 201 p50 ms", "errors / missing"):
        table.add_column(column, justify="right")
    for phase in phases:
        n = str(len(phase.latencies))
        table.add_row(
            phase.name, n, f"{statistics.median([x * 1000 for x in phase.latencies]) if phase.latencies else 0:.1f}",
            f"{phase.pct(99):.1f}", f"{max(phase.latencies, default=0) * 1000:.1f}",
            f"{statistics.median(phase.answers) * 1000 if phase.answers else 0:.1f}",
            f"{phase.errors} / {phase.missing}",
        )  # fmt: skip
    console.print(table)
    waited = next(p for p in phases if p.applied is not None)
    console.print(f"Prefer: wait answers carrying the decision (Preference-Applied): {waited.applied or 0}")
    console.print(f"decisions read back through GET /v1/contacts/{{id}}/decision: {readable[0]} of {readable[1]}")
    console.print("target: p99 < 50 ms at 200 contacts/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=50, help="contacts one at a time on the idle stack")
    parser.add_argument("--rate", type=float, default=200.0, help="contacts a second in the loaded phases")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wait-seconds", type=float, default=5.0, help="N in Prefer: wait=N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        dsn = asyncpg_dsn(make_url(engines.database_url.get_secret_value()))
        keys = asyncio.run(
            stack.issue_keys(engines, force="GMP", roles=[Role.CALL_HANDLER, Role.OFFICER], label="bench")
        )
        env = engine_env(engines) | {f"CRIMEREC_{s.upper()}_LOG_LEVEL": "WARNING" for s in ("intake", "recorder")}
        with services_running(["intake", "recorder"], env, Path(tmp)) as urls:
            intake_port = int(urls["intake"].rsplit(":", 1)[1])
            recorder_port = int(urls["recorder"].rsplit(":", 1)[1])
            phases = asyncio.run(measure(intake_port, dsn, keys["call_handler"], args))
            readable = asyncio.run(all_readable(recorder_port, dsn, keys["officer"]))
            where = asyncio.run(stages(dsn))
        for wait_ms in (engines.kafka_fetch_max_wait_ms, 500):
            phases.append(asyncio.run(broker_hop(engines, fetch_max_wait_ms=wait_ms)))
    report(phases, readable)
    for name, (p50, p99) in where:
        console.print(f"  {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (all contacts)")


if __name__ == "__main__":
    main()
