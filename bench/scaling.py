"""What more partitions and consumers buy: recorder and auditor throughput with 1, 2 and 4 of each.

    .venv/bin/python bench/scaling.py [--contacts 20000] [--counts 1,2,4]

For each count N, on a fresh database and topics of N partitions: fills the contacts topic with `--contacts`
contacts and starts N recorder processes (`crimerec serve recorder`, one consumer group); then fills the contacts
and records topics with the same number of contacts and their recorder events and starts N auditor processes
(event-time clock, as a replay). The rate is measured from the moment the last process of the group answers
/readyz (the log is already full, so every process has work from the start) to the last event handled, counting
only what was handled in that window. Printed with the CPU seconds the processes used a handled event and their
peak resident memory, so the table says whether the processes or something they share (the cores, PostgreSQL, the
broker) was what limited them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, start, wait_for_rows, wait_ready
from _procstats import cpu_seconds, peak_rss_mb
from auditor import fill
from recorder import envelopes, fill_topic

from crimerec.embedded import free_port
from schemas import topics
from services.runtime.database import asyncpg_dsn
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings

console = Console(width=150)


@dataclass(frozen=True)
class Run:
    """One group of N processes working through a full log."""

    rate: float  # handled a second, in the measured window
    cpu_per_item_us: float  # CPU the processes used, from readiness to the last item, per item handled then
    peak_rss_mb: float  # the largest peak of the processes'
    handled_before: int  # handled before the last process was ready (left out of the rate)


def partitioned(engines: EngineSettings, partitions: int) -> EngineSettings:
    """The same engines with topics of their own, of `partitions` partitions each."""
    own = engines.model_copy(update={"topic_prefix": f"{engines.topic_prefix}p{partitions}."})
    asyncio.run(ensure_topics(own, partitions=partitions))
    return own


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def run_group(
    service: str, n: int, engines: EngineSettings, env: dict[str, str], sql: str, total: int, logs: Path
) -> Run:
    """Starts N processes of a service on a full log; how fast they work through it."""
    ports = [free_port() for _ in range(n)]
    procs = [start(service, port, env, logs / f"{service}-{n}-{i}.log") for i, port in enumerate(ports)]
    dsn = asyncpg_dsn(make_url(engines.database_url.get_secret_value()))
    try:
        for port in ports:
            wait_ready(f"http://127.0.0.1:{port}")
        cpu_before = [cpu_seconds(p.pid) for p in procs]  # from readiness: start-up (imports) left out
        started = time.perf_counter()
        before = asyncio.run(_count(dsn, sql))
        first, done = asyncio.run(
            wait_for_rows(dsn, sql, total, description=f"{n} × {service}", procs=procs, who=service, console=console)
        )
        cpu = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_before, strict=True))
        peak = max(peak_rss_mb(p.pid) for p in procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
    # From the first event handled once every process was up (joining the group takes a few seconds) to the last.
    return Run((total - before) / (done - max(first, started)), cpu / (total - before) * 1e6, peak, before)


def measure(n: int, contacts: int, tmp: Path) -> tuple[Run, Run, int]:
    """The recorder's and the auditor's runs with N partitions and processes, and the auditor's event count."""
    with bench_engines(tmp / f"n{n}") as base:
        engines = partitioned(base, n)
        env = engine_env(engines) | {"CRIMEREC_RECORDER_LOG_LEVEL": "WARNING", "CRIMEREC_AUDITOR_LOG_LEVEL": "WARNING"}
        received = envelopes(contacts)
        contacts_topic = engines.topic(topics.CONTACTS)
        asyncio.run(fill_topic(engines.kafka_bootstrap, contacts_topic, received, engines.kafka_enable_idempotence))
        recorder = run_group("recorder", n, engines, env, "SELECT count(*) FROM recorder.decisions", contacts, tmp)
    with bench_engines(tmp / f"a{n}") as base:
        engines = partitioned(base, n)
        env = engine_env(engines) | {"CRIMEREC_AUDITOR_LOG_LEVEL": "WARNING", "CRIMEREC_AUDITOR_CLOCK": "event_time"}
        events = asyncio.run(
            fill(engines.kafka_bootstrap, engines.topic_prefix, contacts, engines.kafka_enable_idempotence)
        )
        auditor = run_group("auditor", n, engines, env, "SELECT count(*) FROM auditor.inbox", events, tmp)
    return recorder, auditor, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--counts", default="1,2,4", help="partitions (= consumer processes) to try")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            console.print(f"{n} partition(s) and process(es)…")
            results[n] = measure(n, args.contacts, Path(tmp))

    cores = len(os.sched_getaffinity(0))
    table = Table(title=f"scaling: {args.contacts:,} contacts, N partitions and N processes ({cores} cores, shared)")
    for column in ("N", "recorder contacts/s", "× N=1", "CPU µs/contact", "RSS MB", "auditor events/s", "× N=1",
                   "CPU µs/event", "RSS MB"):  # fmt: skip
        table.add_column(column, justify="right")
    base_rec, base_aud, _ = results[counts[0]]
    for n, (rec, aud, _events) in results.items():
        table.add_row(
            str(n), f"{rec.rate:,.0f}", f"{rec.rate / base_rec.rate:.2f}", f"{rec.cpu_per_item_us:,.0f}",
            f"{rec.peak_rss_mb:,.0f}", f"{aud.rate:,.0f}", f"{aud.rate / base_aud.rate:.2f}",
            f"{aud.cpu_per_item_us:,.0f}", f"{aud.peak_rss_mb:,.0f}",
        )  # fmt: skip
    console.print(table)
    early = {n: (r.handled_before, a.handled_before) for n, (r, a, _) in results.items()}
    console.print(f"handled before the last process was ready (left out of the rates; recorder, auditor): {early}")


if __name__ == "__main__":
    main()
