"""Intake throughput and latency: the real endpoint against a bare validate-only endpoint, same run, same workers.

    .venv/bin/python bench/intake.py [--seconds 10] [--rounds 2] [--concurrency 32] [--batch-seconds 10]

Prints accepted contacts a second and p50/p99 latency for both, and the ratios (issue 21's target: intake at least
0.7 of the required-rows floor below). Then `POST /v1/contacts:batch` with batches of 1,000 from two connections
(target: at least 10,000 contacts a second). The
endpoints are loaded in turns (bare, floor, real, bare, …) so that a slow patch of the machine falls on each. Every
contact the real endpoint acknowledged is then counted in the database: a 201 must mean durable.

Two more endpoints, the floors (`_durable_floor.py`), validate the same payload and group-commit it with raw
asyncpg and nothing else: one row, and the four rows the issue requires of intake in that transaction (contact,
idempotency record, outbox event, access-log entry). Their ratios to the bare endpoint bound what any intake that
does that much can reach on this stack; real/required floor is what intake's own code costs on top.

The load comes from keep-alive HTTP/1.1 connections written on asyncio streams, each request encoded by hand. An
httpx client spent 4-7 ms of CPU a request, more than the server under test, so the figures measured the client;
this one spends about 0.2 ms, and the bench prints what it spent so that can be checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env

from crimerec import stack
from crimerec.embedded import free_port
from schemas.events import Role
from services.intake.models import contacts
from services.runtime.settings import EngineSettings

console = Console(width=110)


def contact_body() -> dict[str, object]:
    """A typical contact: two identified victims, two offences, a narrative."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "force": "GMP",
        "source": {"system": "STORM", "reference": f"B-{uuid.uuid4().hex}"},
        "channel": "999",
        "received_at": (now - timedelta(minutes=3)).isoformat(),
        "reporter": {"relationship": "witness", "name": "bar staff", "phone": "07700 900123", "email": None},
        "victims": [
            {"ref": "V1", "kind": "person", "name": "Sam Ortiz", "identified": True, "confirmed": True},
            {"ref": "V2", "kind": "person", "name": "Lee Ward", "identified": True, "confirmed": True},
        ],
        "incident": {"category": "crime", "qualifiers": ["alcohol_related"]},
        "location": {"description": "High Street", "postcode": "M1 1AA", "force_area": "GMP"},
        "occurred_from": (now - timedelta(minutes=40)).isoformat(),
        "occurred_to": (now - timedelta(minutes=30)).isoformat(),
        "offences": [
            {"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1"},
            {"victim_ref": "V2", "ho_class": "105A", "offender_ref": "S1"},
        ],
        "narrative": "Door staff report a man glassed one customer and pushed a second to the floor. " * 3,
    }


@dataclass
class Result:
    """What the load on one endpoint measured, over all its rounds."""

    accepted: int = 0
    errors: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(p) - 1] * 1000 if len(self.latencies) > 2 else 0.0


def request_bytes(port: int, token: str) -> bytes:
    """One POST /v1/contacts with a fresh contact and Idempotency-Key, as it goes on the wire."""
    body = json.dumps(contact_body()).encode()
    head = (
        f"POST /v1/contacts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Sends one request on a kept-alive connection and reads the whole response; its status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head[9:12])


async def load(port: int, token: str, *, seconds: float, concurrency: int, into: Result) -> None:
    """Posts contacts from `concurrency` connections for `seconds`, adding what it measured to `into`."""

    async def worker(stop_at: float, measure: bool) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop_at:
                request = request_bytes(port, token)
                started = time.perf_counter()
                status = await exchange(reader, writer, request)
                if not measure:
                    continue
                if status == 201:
                    into.accepted += 1
                    into.latencies.append(time.perf_counter() - started)
                else:
                    into.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(time.monotonic() + 1, False) for _ in range(concurrency)))  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(time.monotonic() + seconds, True) for _ in range(concurrency)))
    into.seconds += time.perf_counter() - started
    into.client_cpu += time.process_time() - cpu


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds on each endpoint, taken in turns")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-seconds", type=float, default=10.0, help="length of the batch round (0: none)")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        results = run_rounds(
            engines, Path(tmp), seconds=args.seconds, rounds=args.rounds, concurrency=args.concurrency,
            batch=(args.batch_seconds, args.batch_size),
        )  # fmt: skip
        durable, transactions = asyncio.run(stored(engines))
    report(results, durable=durable, transactions=transactions)


def batch_bytes(port: int, token: str, size: int) -> bytes:
    """One POST /v1/contacts:batch of `size` fresh contacts, each with its own key."""
    items = [{"idempotency_key": uuid.uuid4().hex, "contact": contact_body()} for _ in range(size)]
    body = json.dumps({"contacts": items}).encode()
    head = (
        f"POST /v1/contacts:batch HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load_batches(port: int, token: str, *, seconds: float, size: int, into: Result) -> None:
    """Batches from two connections for `seconds` (requests built beforehand, so the client's JSON is not timed);
    `accepted` counts contacts, `latencies` whole batches."""

    async def worker(stop_at: float, requests: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop_at and requests:
                started = time.perf_counter()
                status = await exchange(reader, writer, requests.pop())
                if status == 200:
                    into.accepted += size
                    into.latencies.append(time.perf_counter() - started)
                else:
                    into.errors += 1
        finally:
            writer.close()

    per_worker = max(2, int(seconds * 12_000 / size / 2) + 1)  # enough for 12,000 contacts/s
    prepared = [[batch_bytes(port, token, size) for _ in range(per_worker)] for _ in range(2)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(time.monotonic() + seconds, requests) for requests in prepared))
    into.seconds += time.perf_counter() - started


def run_rounds(
    engines: EngineSettings, tmp: Path, *, seconds: float, rounds: int, concurrency: int, batch: tuple[float, int]
) -> dict[str, Result]:
    """The four endpoints as processes, loaded in turns for `rounds` rounds of `seconds` each."""
    repo = Path(__file__).resolve().parent.parent
    token = asyncio.run(stack.issue_keys(engines, force="GMP", roles=[Role.CALL_HANDLER], label="bench"))[
        "call_handler"
    ]
    env = engine_env(engines) | {"CRIMEREC_INTAKE_LOG_LEVEL": "WARNING"}
    ports = [free_port() for _ in range(4)]

    def bench_app(app: str, at: int) -> subprocess.Popen[bytes]:
        return serve(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(repo / "bench"), app,
             "--port", str(at), "--log-level", "warning", "--no-access-log"],
            env, tmp / f"{app.replace(':', '-')}.log",
        )  # fmt: skip

    procs = [
        bench_app("_bare_intake:app", ports[0]),
        bench_app("_durable_floor:app", ports[1]),
        bench_app("_durable_floor:required_app", ports[2]),
        serve([sys.executable, "-m", "crimerec", "serve", "intake", "--port", str(ports[3])], env, tmp / "intake.log"),
    ]
    results = {
        "bare (validate only)": Result(),
        "floor: 1 row": Result(),
        "floor: required rows": Result(),
        "crimerec intake": Result(),
    }
    try:
        for at, proc in zip(ports[:3], procs, strict=False):
            wait_up(f"http://127.0.0.1:{at}/docs", proc)
        wait_up(f"http://127.0.0.1:{ports[3]}/healthz", procs[3])
        for round_ in range(1, rounds + 1):
            for (name, result), at in zip(results.items(), ports, strict=True):
                console.print(f"round {round_}/{rounds}, {name}: {concurrency} connections, {seconds:.0f} s…")
                asyncio.run(load(at, token, seconds=seconds, concurrency=concurrency, into=result))
        if batch[0] > 0:
            results[f"crimerec intake, batches of {batch[1]:,}"] = batched = Result()
            console.print(f"POST /v1/contacts:batch, batches of {batch[1]:,} from 2 connections, {batch[0]:.0f} s…")
            asyncio.run(load_batches(ports[3], token, seconds=batch[0], size=batch[1], into=batched))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    return results


async def stored(engines: EngineSettings) -> tuple[int, int]:
    """Contacts stored, and the transactions that stored them (a transaction's rows share its now())."""
    engine = create_async_engine(engines.database_url.get_secret_value())
    try:
        async with engine.connect() as conn:
            counted = select(func.count(), func.count(contacts.c.created_at.distinct()))
            total, transactions = (await conn.execute(counted)).one()
            return int(total), int(transactions)
    finally:
        await engine.dispose()


def report(results: dict[str, Result], *, durable: int, transactions: int) -> None:
    """The table of endpoints and the ratios against the bare one."""
    bare_result, floor_result, required_result, real_result, *batched = results.values()
    table = Table(title="intake: POST /v1/contacts (1 worker each, same run)")
    for column in ("endpoint", "accepted/s", "p50 ms", "p99 ms", "errors", "load CPU ms/request"):
        table.add_column(column, justify="right")
    for name, result in results.items():
        table.add_row(
            name,
            f"{result.rate:,.0f}",
            f"{result.pct(50):.1f}",
            f"{result.pct(99):.1f}",
            str(result.errors),
            f"{1000 * result.client_cpu / max(result.accepted + result.errors, 1):.2f}",
        )
    console.print(table)
    console.print(
        f"ratio real/required floor: {real_result.rate / required_result.rate:.2f} (target ≥ 0.70); "
        f"real/bare: {real_result.rate / bare_result.rate:.2f}"
    )
    if batched:
        console.print(f"batch endpoint: {batched[0].rate:,.0f} contacts/s (target ≥ 10,000; p50 a batch "
                      f"{batched[0].pct(50):.0f} ms)")  # fmt: skip
    console.print(
        f"floors over bare: 1 row {floor_result.rate / bare_result.rate:.2f}, the required rows "
        f"{required_result.rate / bare_result.rate:.2f} (the most an intake writing them can reach here, before "
        "credentials, checks and publishing)"
    )
    acknowledged = real_result.accepted + sum(b.accepted for b in batched)  # plus the warm-up's, counted below
    console.print(f"stored contacts: {durable:,} (≥ {acknowledged:,} acknowledged in the measured rounds)")
    console.print(f"group commit: {durable / max(transactions, 1):.1f} contacts a transaction on average")


if __name__ == "__main__":
    main()
