"""Recorder throughput: contacts decided a second, end to end, against the raw ceiling of the same writes.

    .venv/bin/python bench/recorder.py [--contacts 100000] [--processes 2]

Fills the contacts topic with N simulated `contact.received` events, starts the recorder (`crimerec serve
recorder`, two processes in one consumer group by default: one a core, as a force would deploy it on a 2-core
machine; the contacts topic has 6 partitions), and times topic → decisions and crimes committed → events in the
outbox. In the same run, the raw ceiling: the same rows (contact, decision, crimes, outbox events) written with
batched asyncpg inserts, no Kafka, no rules. Prints both and the ratio (targets: at least 5,000 a second and 0.25
of the ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, wait_for_rows

from schemas import topics
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for
from services.runtime.database import asyncpg_dsn
from services.runtime.messaging import encode_event

console = Console()
CLASSES = ["8N", "105A", "28E", "49", "58A", "34B", "45", "46", "5D", "104"]


def simulated_contact(rng: random.Random, now: datetime) -> ContactCreate:
    """A contact of the usual shapes: one or two victims, one to three offences."""
    victims = [
        {"ref": f"V{i}", "kind": "person", "name": f"Victim {i}", "identified": True, "confirmed": True}
        for i in range(1, rng.choice([1, 1, 1, 2]) + 1)
    ]
    offences = [
        {"victim_ref": rng.choice(victims)["ref"], "ho_class": rng.choice(CLASSES), "offender_ref": "S1"}
        for _ in range(rng.choice([1, 1, 2, 3]))
    ]
    return ContactCreate.model_validate(
        {
            "force": "GMP",
            "source": {"system": "BENCH", "reference": uuid.uuid4().hex},
            "channel": "101",
            "received_at": (now - timedelta(minutes=rng.randint(1, 600))).isoformat(),
            "reporter": {"relationship": "victim"},
            "victims": victims,
            "incident": {"category": "crime"},
            "location": {"force_area": "GMP"},
            "offences": offences,
            "narrative": "Reported at first contact; simulated for the benchmark.",
        }
    )


def envelopes(n: int) -> list[Envelope]:
    """N `contact.received` events, as intake would publish them."""
    rng = random.Random(20261123)
    now = datetime.now(UTC)
    actor = Actor(principal="bench", roles=[Role.CALL_HANDLER], force="GMP")
    out = []
    for _ in range(n):
        contact = simulated_contact(rng, now)
        cid = uuid.uuid4()
        payload = ContactReceived(
            contact_id=cid, force="GMP", received_at=contact.received_at, submitted_by=actor, contact=contact
        )
        out.append(envelope_for(payload, producer="intake", correlation_id=cid))
    return out


async def fill_topic(bootstrap: str, topic: str, events: list[Envelope], idempotence: bool) -> float:
    """Produces the events (acks=all); returns seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence, linger_ms=20,
        max_batch_size=1_000_000,
    )  # fmt: skip
    await producer.start()
    started = time.perf_counter()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("filling the contacts topic", total=len(events))
            for i in range(0, len(events), 2000):
                chunk = events[i : i + 2000]
                futures = [await producer.send(topic, encode_event(e), key=str(e.contact_id).encode()) for e in chunk]
                await asyncio.gather(*futures)
                progress.advance(task, len(chunk))
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def wait_decided(dsn: str, n: int, procs: list[subprocess.Popen[bytes]]) -> tuple[float, float, int]:
    """Polls until N decisions exist; returns (first decision seen at, all decided at, outbox rows)."""
    first, done = await wait_for_rows(
        dsn, "SELECT count(*) FROM recorder.decisions", n, description="recorder deciding", procs=procs,
        who="a recorder", console=console,
    )  # fmt: skip
    return first, done, await count(dsn, "SELECT count(*) FROM recorder.outbox")


async def raw_ceiling(dsn: str, events: list[Envelope]) -> float:
    """The same rows the recorder writes for each contact, by batched asyncpg inserts; returns contacts a second."""
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.contacts (LIKE recorder.contacts INCLUDING ALL);"
                       "CREATE TABLE raw.decisions (LIKE recorder.decisions INCLUDING ALL);"
                       "CREATE TABLE raw.crimes (LIKE recorder.crimes INCLUDING ALL);"
                       "CREATE TABLE raw.outbox (LIKE recorder.outbox INCLUDING ALL);")  # fmt: skip
    now = datetime.now(UTC)
    started = time.perf_counter()
    number = 0
    try:
        for i in range(0, len(events), 500):
            chunk = events[i : i + 500]
            contacts, decisions, crimes, outbox = [], [], [], []
            for e in chunk:
                body = e.payload["contact"]
                received = datetime.fromisoformat(body["received_at"])
                contacts.append((e.contact_id, "GMP", received, encode_event(e).decode(), e.event_id))
                decisions.append((e.contact_id, "GMP", "recorded", "raw", "[]", "raw", received, received, now))
                for offence in body["offences"]:
                    number += 1
                    crimes.append((f"GMP-2026-{number:07d}", e.contact_id, "GMP", offence["ho_class"], received, now))
                    outbox.append((uuid.uuid4(), "records", str(e.contact_id), b"{}", "{}"))
                outbox.append((uuid.uuid4(), "records", str(e.contact_id), b"{}", "{}"))
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO raw.contacts (contact_id, force, received_at, body, event_id) "
                    "VALUES ($1, $2, $3, $4::jsonb, $5)", contacts)  # fmt: skip
                await conn.executemany(
                    "INSERT INTO raw.decisions (contact_id, force, outcome, rationale, problems, rules_version, "
                    "received_at, recording_deadline, decided_at, n100) "
                    "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, false)", decisions)  # fmt: skip
                await conn.executemany(
                    "INSERT INTO raw.crimes (crime_reference, contact_id, force, ho_class, offence_group, "
                    "audit_category, status, received_at, recorded_at, recording_deadline, rules_version) "
                    "VALUES ($1, $2, $3, $4, 'g', 'violence', 'recorded', $5, $6, $5, 'raw')", crimes)  # fmt: skip
                await conn.executemany(
                    "INSERT INTO raw.outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5::jsonb)",
                    outbox)  # fmt: skip
        return len(events) / (time.perf_counter() - started)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2, help="recorder processes in the consumer group")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        dsn = asyncpg_dsn(make_url(engines.database_url.get_secret_value()))
        console.print(f"generating {args.contacts:,} contacts…")
        events = envelopes(args.contacts)
        fill = asyncio.run(
            fill_topic(
                engines.kafka_bootstrap, engines.topic(topics.CONTACTS), events, engines.kafka_enable_idempotence
            )
        )
        console.print(f"topic filled in {fill:.1f} s")
        env = engine_env(engines) | {"CRIMEREC_RECORDER_LOG_LEVEL": "WARNING"}
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "crimerec", "serve", "recorder", "--port", "0"],
                env=env, stdout=(Path(tmp) / f"recorder-{i}.log").open("wb"), stderr=subprocess.STDOUT,
            )
            for i in range(args.processes)
        ]  # fmt: skip
        try:
            first, done, outbox = asyncio.run(wait_decided(dsn, args.contacts, procs))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()
        crimes = asyncio.run(count(dsn, "SELECT count(*) FROM recorder.crimes"))
        rate = args.contacts / (done - first)
        console.print("raw ceiling: the same rows by batched asyncpg inserts…")
        ceiling = asyncio.run(raw_ceiling(dsn, events))

    processes = f"{args.processes} process" + ("es" if args.processes > 1 else "")
    table = Table(title=f"recorder: {args.contacts:,} contacts from the topic ({processes}, one consumer group)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("start-up and group join (s)", f"{first - started:.1f}")
    table.add_row("contacts decided / s (first decision → last)", f"{rate:,.0f}")
    table.add_row("crimes recorded", f"{crimes:,}")
    table.add_row("events in the outbox", f"{outbox:,}")
    table.add_row("raw ceiling: contacts / s (batched asyncpg)", f"{ceiling:,.0f}")
    table.add_row("ratio", f"{rate / ceiling:.2f}")
    console.print(table)
    console.print("targets: ≥ 5,000 contacts/s and ≥ 0.25 of the ceiling")


if __name__ == "__main__":
    main()
