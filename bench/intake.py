"""Intake throughput and latency: the real endpoint against a bare validate-only endpoint, same run, same workers.

    .venv/bin/python bench/intake.py [--seconds 10] [--concurrency 32]

Prints accepted contacts a second and p50/p99 latency for both, and the ratio (target: at least 0.6). Every
contact the real endpoint acknowledged is then counted in the database: a 201 must mean durable.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
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

console = Console()


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
    """What one load run measured."""

    accepted: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def pct(self, p: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(p) - 1] * 1000 if len(self.latencies) > 2 else 0.0


async def load(url: str, headers: dict[str, str], *, seconds: float, concurrency: int) -> Result:
    """Posts contacts from `concurrency` clients for `seconds` (after a short warm-up); bounded in time."""
    latencies: list[float] = []
    accepted = errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one() -> bool:
            body = contact_body()
            started = time.perf_counter()
            r = await client.post(url, json=body, headers=headers | {"Idempotency-Key": uuid.uuid4().hex})
            elapsed = time.perf_counter() - started
            if r.status_code == 201:
                latencies.append(elapsed)
                return True
            return False

        warm_until = time.monotonic() + 2
        while time.monotonic() < warm_until:
            await asyncio.gather(*(one() for _ in range(concurrency)))
        latencies.clear()
        stop_at = time.monotonic() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal accepted, errors
            while time.monotonic() < stop_at:
                if await one():
                    accepted += 1
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result(accepted, errors, time.perf_counter() - started, latencies)


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
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        keys = asyncio.run(stack.issue_keys(engines, force="GMP", roles=[Role.CALL_HANDLER], label="bench"))
        headers = {"Authorization": f"Bearer {keys['call_handler']}"}
        env = engine_env(engines) | {"CRIMEREC_INTAKE_LOG_LEVEL": "WARNING"}

        bare_port = free_port()
        bare = serve(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(repo / "bench"), "_bare_intake:app",
             "--port", str(bare_port), "--log-level", "warning", "--no-access-log"],
            env, Path(tmp) / "bare.log",
        )  # fmt: skip
        try:
            wait_up(f"http://127.0.0.1:{bare_port}/docs", bare)
            console.print(f"bare endpoint: {args.concurrency} clients for {args.seconds:.0f} s…")
            bare_result = asyncio.run(
                load(f"http://127.0.0.1:{bare_port}/v1/contacts", headers, seconds=args.seconds,
                     concurrency=args.concurrency)
            )  # fmt: skip
        finally:
            bare.terminate()
            bare.wait()

        port = free_port()
        real = serve(
            [sys.executable, "-m", "crimerec", "serve", "intake", "--port", str(port)], env, Path(tmp) / "intake.log"
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/healthz", real)
            console.print(f"real intake: {args.concurrency} clients for {args.seconds:.0f} s…")
            real_result = asyncio.run(
                load(f"http://127.0.0.1:{port}/v1/contacts", headers, seconds=args.seconds,
                     concurrency=args.concurrency)
            )  # fmt: skip
        finally:
            real.terminate()
            real.wait()

        async def stored() -> int:
            engine = create_async_engine(engines.database_url.get_secret_value())
            try:
                async with engine.connect() as conn:
                    return int(await conn.scalar(select(func.count()).select_from(contacts)) or 0)
            finally:
                await engine.dispose()

        durable = asyncio.run(stored())

    table = Table(title="intake: POST /v1/contacts (1 worker each, same run)")
    for column in ("endpoint", "accepted/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for name, result in (("bare (validate only)", bare_result), ("crimerec intake", real_result)):
        table.add_row(name, f"{result.rate:,.0f}", f"{result.pct(50):.1f}", f"{result.pct(99):.1f}", str(result.errors))
    console.print(table)
    console.print(f"ratio real/bare: {real_result.rate / bare_result.rate:.2f} (target ≥ 0.60)")
    acknowledged = real_result.accepted  # plus the warm-up's, which the count below includes
    console.print(f"stored contacts: {durable:,} (≥ {acknowledged:,} acknowledged in the measured window)")


if __name__ == "__main__":
    main()
