"""Auditor speed: approval → alert latency on an open SSE stream, and the replay rate over a pre-filled topic.

    .venv/bin/python bench/auditor.py [--cancellations 1000] [--rate 20] [--contacts 100000]

1. Runs intake, recorder and auditor as processes, records `--cancellations` violence crimes, asks to cancel each,
   then approves them as a DDM at a steady `--rate` a second while a supervisor's SSE stream is open; prints p50 and
   p99 from each approval's response to its HIGH_RISK_CANCELLATION alert arriving (target p99 under 500 ms).
2. Fills the contacts and records topics with `--contacts` contacts and their recorder events, starts an auditor on
   a fresh database in event-time mode, and prints events handled a second (target at least 20,000), the CPU it
   used an event and its peak resident memory (target under 250 MB). Same-run references: how fast this process
   only reads (decodes and validates) a sample of the same log, in one pass (as the auditor reads) and in two (the
   envelope, then its payload, as every other consumer reads): the floor below which the auditor's own work is.
   `--profile FILE` writes a py-spy profile of the replay (collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, services_running, start, wait_for_rows, wait_ready
from _procstats import cpu_seconds, peak_rss_mb
from recorder import envelopes

from crimerec import stack
from crimerec.embedded import free_port
from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactDecided, CrimeRecorded, Outcome, envelope_for
from services.runtime.consumer import parse_event
from services.runtime.database import asyncpg_dsn
from services.runtime.messaging import encode_event
from services.runtime.typed_events import parse_event_typed

console = Console()
LATE_EVERY = 10


async def alert_latency(urls: dict[str, str], keys: dict[str, str], n: int, rate: float) -> list[float]:
    """Seconds from each approval's response to its alert on the stream."""
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    async with httpx.AsyncClient(timeout=30) as client:
        requests = await cancellation_requests(client, urls, auth, n)
        arrived: dict[str, float] = {}
        approved: dict[str, float] = {}
        listener = asyncio.create_task(listen(client, urls, auth, n, arrived))
        await asyncio.sleep(1.0)  # the stream is open before the first approval
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"approving at {rate:g}/s", total=n)
            started = time.perf_counter()
            for i, (crn, request_id) in enumerate(requests):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                r = await client.post(
                    f"{urls['recorder']}/v1/cancellation-requests/{request_id}/approval",
                    json={"note": "agreed"}, headers=auth["ddm"],
                )  # fmt: skip
                approved[crn] = time.perf_counter()
                assert r.status_code == 200, r.text
                progress.advance(task)
        await asyncio.wait_for(listener, timeout=120)
    return [arrived[crn] - approved[crn] for crn in approved if crn in arrived]


async def cancellation_requests(
    client: httpx.AsyncClient, urls: dict[str, str], auth: dict[str, dict[str, str]], n: int
) -> list[tuple[str, str]]:
    """Records N violence crimes through intake and asks to cancel each; (crime reference, request id) pairs."""
    crns: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("recording crimes and asking to cancel them", total=n)
        for _ in range(n):
            body = {
                "force": "GMP",
                "source": {"system": "BENCH", "reference": uuid.uuid4().hex},
                "channel": "999",
                "received_at": (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))),
                "reporter": {"relationship": "victim"},
                "victims": [{"ref": "V1", "kind": "person", "identified": True, "confirmed": True}],
                "incident": {"category": "crime"},
                "offences": [{"victim_ref": "V1", "ho_class": "8N"}],
            }
            r = await client.post(
                f"{urls['intake']}/v1/contacts", json=body,
                headers=auth["call_handler"] | {"Idempotency-Key": uuid.uuid4().hex},
            )  # fmt: skip
            contact_id = r.json()["contact_id"]
            while True:
                d = await client.get(f"{urls['recorder']}/v1/contacts/{contact_id}/decision", headers=auth["officer"])
                if d.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            crns.append(d.json()["crime_references"][0])
            progress.advance(task)
    requests = []
    for crn in crns:
        r = await client.post(
            f"{urls['recorder']}/v1/crimes/{crn}/cancellation-requests",
            json={"code": "C4", "explanation": "Recorded against the wrong person.", "error": "wrong victim",
                  "victim_informed": False},
            headers=auth["officer"],
        )  # fmt: skip
        requests.append((crn, r.json()["request_id"]))
    return requests


async def listen(
    client: httpx.AsyncClient, urls: dict[str, str], auth: dict[str, dict[str, str]], n: int,
    arrived: dict[str, float],
) -> None:  # fmt: skip
    """A supervisor's SSE stream of HIGH_RISK_CANCELLATION alerts: when each crime's alert arrived, until N have."""
    async with client.stream(
        "GET", f"{urls['auditor']}/v1/alerts/stream?rule=HIGH_RISK_CANCELLATION",
        headers=auth["supervisor"], timeout=None,
    ) as stream:  # fmt: skip
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                body = json.loads(line[5:])
                if body.get("event") == "flag.raised" and body.get("crime_reference"):
                    arrived.setdefault(body["crime_reference"], time.perf_counter())
                    if len(arrived) >= n:
                        return


async def fill(bootstrap: str, prefix: str, n: int, idempotence: bool, sample: list[bytes] | None = None) -> int:
    """Contacts and their recorder events on the two topics, as intake and the recorder publish them; the first
    20,000 events' bytes are kept in `sample`, if given."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence, linger_ms=20,
        max_batch_size=1_000_000,
    )  # fmt: skip
    await producer.start()
    count = 0
    try:
        received = envelopes(n)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("filling contacts and records", total=n)
            for i in range(0, n, 1000):
                futures = []
                for k, env in enumerate(received[i : i + 1000], start=i):
                    # Every LATE_EVERY-th contact is recorded (and decided) a day and more late: its replay
                    # raises and cures flags, as a force's log would.
                    made = timedelta(hours=30) if k % LATE_EVERY == 0 else timedelta(seconds=2)
                    contact = env.payload["contact"]
                    cid = env.contact_id
                    key = str(cid).encode()
                    futures.append(await producer.send(prefix + topics.CONTACTS, _kept(env, sample), key=key))
                    count += 1
                    received_at = datetime.fromisoformat(contact["received_at"])
                    refs = []
                    for j, offence in enumerate(contact["offences"]):
                        crn = f"GMP-2026-{i + j:07d}-{uuid.uuid4().hex[:6]}"[:40]
                        refs.append(crn)
                        crime = CrimeRecorded(
                            contact_id=cid, crime_reference=crn, force="GMP", victim_ref=offence["victim_ref"],
                            ho_class=offence["ho_class"], offence_group="g", audit_category="violence",
                            received_at=received_at, recorded_at=received_at + made,
                            recording_deadline=received_at + timedelta(hours=24), rules_version="bench",
                            recorded_by=None,
                        )  # fmt: skip
                        e = envelope_for(crime, producer="recorder", correlation_id=cid)
                        futures.append(await producer.send(prefix + topics.RECORDS, _kept(e, sample), key=key))
                        count += 1
                    decided = ContactDecided(
                        contact_id=cid, force="GMP", outcome=Outcome.RECORDED, crime_references=refs,
                        rationale="bench", rules_version="bench", decided_at=received_at + made,
                        recording_deadline=received_at + timedelta(hours=24), received_at=received_at,
                        decided_by=None,
                    )  # fmt: skip
                    e = envelope_for(decided, producer="recorder", correlation_id=cid)
                    futures.append(await producer.send(prefix + topics.RECORDS, _kept(e, sample), key=key))
                    count += 1
                await asyncio.gather(*futures)
                progress.advance(task, 1000)
    finally:
        await producer.stop()
    return count


def _kept(envelope: Envelope, sample: list[bytes] | None) -> bytes:
    value = encode_event(envelope)
    if sample is not None and len(sample) < 20_000:
        sample.append(value)
    return value


def read_rates(sample: list[bytes], parsers: list[Callable[[bytes | None], object]]) -> list[float]:
    """Events a second this process reads (decodes and validates) from the sample with each parser: best of five,
    the parsers taking turns, so a busy moment of a shared machine does not fall on one of them only."""
    best = [float("inf")] * len(parsers)
    for _ in range(5):
        for i, parse in enumerate(parsers):
            started = time.perf_counter()
            for value in sample:
                parse(value)
            best[i] = min(best[i], time.perf_counter() - started)
    return [len(sample) / seconds for seconds in best]


async def count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def wait_handled(dsn: str, events: int, proc: subprocess.Popen[bytes]) -> tuple[float, float]:
    """Polls until the auditor has handled every event; returns (first handled at, all handled at)."""
    return await wait_for_rows(
        dsn, "SELECT count(*) FROM auditor.inbox", events, description="auditor replaying", procs=[proc],
        who="auditor", console=console,
    )  # fmt: skip


@dataclass(frozen=True)
class Replay:
    """An auditor's replay of a full log on a fresh database."""

    events: int
    seconds: float  # first event handled → last
    cpu: float  # the auditor's CPU seconds an event, from readiness to the last event
    peak_rss_mb: float
    flags: int
    sample: list[bytes]  # the log's first events, for the read-rate references


def replay(work: Path, contacts: int, profile: str | None) -> Replay:
    """Fills the log, starts an auditor on it (event-time clock) and waits until it has handled every event."""
    with bench_engines(work) as engines:
        dsn = asyncpg_dsn(make_url(engines.database_url.get_secret_value()))
        sample: list[bytes] = []
        events = asyncio.run(
            fill(engines.kafka_bootstrap, engines.topic_prefix, contacts, engines.kafka_enable_idempotence, sample)
        )
        env = engine_env(engines) | {"CRIMEREC_AUDITOR_LOG_LEVEL": "WARNING", "CRIMEREC_AUDITOR_CLOCK": "event_time"}
        port = free_port()
        proc = start("auditor", port, env, work.parent / "replay.log")
        spy = None
        if profile:
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(proc.pid),
                                    "--format", "raw", "-o", profile, "--rate", "200", "--nonblocking"])  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}")
            cpu = cpu_seconds(proc.pid)  # from readiness: start-up (imports) left out
            before = asyncio.run(count(dsn, "SELECT count(*) FROM auditor.inbox"))
            first, last = asyncio.run(wait_handled(dsn, events, proc))
            cpu = (cpu_seconds(proc.pid) - cpu) / (events - before)
            flags = asyncio.run(count(dsn, "SELECT count(*) FROM auditor.flags"))
            result = Replay(events, last - first, cpu, peak_rss_mb(proc.pid), flags, sample)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait()
            proc.terminate()
            proc.wait()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cancellations", type=int, default=1000, help="0 measures the replay rate alone")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--profile", help="write a py-spy profile of the replay here (raw: collapsed stacks)")
    args = parser.parse_args()
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.cancellations:  # 0: the replay rate alone
            with bench_engines(Path(tmp) / "live") as engines:
                keys = asyncio.run(stack.issue_keys(engines, force="GMP", roles=stack.DEMO_ROLES, label="bench"))
                env = engine_env(engines) | {f"CRIMEREC_{s.upper()}_LOG_LEVEL": "WARNING" for s in stack.SERVICES}
                with services_running(stack.SERVICES, env, Path(tmp)) as urls:
                    latencies = asyncio.run(alert_latency(urls, keys, args.cancellations, args.rate))
        run = replay(Path(tmp) / "replay", args.contacts, args.profile)

    ms = sorted(x * 1000 for x in latencies)
    table = Table(title="auditor")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"alerts received of {args.cancellations} approvals", str(len(ms)))
    if ms:
        table.add_row("approval → alert on SSE, p50 (ms)", f"{statistics.median(ms):.0f}")
        table.add_row("approval → alert on SSE, p99 (ms)", f"{ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.0f}")
    table.add_row(f"replay: events ({args.contacts:,} contacts)", f"{run.events:,}")
    rate = run.events / run.seconds
    table.add_row("replay: events handled / s", f"{rate:,.0f}")
    table.add_row("replay: flags raised", f"{run.flags:,}")
    table.add_row("replay: auditor CPU a handled event (µs)", f"{run.cpu * 1e6:,.0f}")
    table.add_row("replay: auditor peak resident memory (MB)", f"{run.peak_rss_mb:,.0f}")
    one_pass, two_passes = read_rates(run.sample, [parse_event_typed, parse_event])
    table.add_row("reference: events / s this process only reads, one pass", f"{one_pass:,.0f}")
    table.add_row("reference: events / s this process only reads, two passes", f"{two_passes:,.0f}")
    table.add_row("replay ÷ the one-pass read rate", f"{rate / one_pass:.2f}")
    console.print(table)
    console.print("targets: p99 < 500 ms; replay ≥ 20,000 events/s; auditor peak RSS < 250 MB")


if __name__ == "__main__":
    main()
