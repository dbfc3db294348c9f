"""A whole chaos run: the stack, the load, the kills, the count, the table; its exit code says whether it held."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from crimerec.chaos.faults import FaultInjector, Kill, kill_plan
from crimerec.chaos.load import ContactLoad, LoadResult
from crimerec.chaos.stack_process import UpProcess
from crimerec.chaos.verify import Verdict, settle_and_count

RECOVERY_TARGET_S = 10.0
PROBE_BASE = 900_000  # probe contacts are numbered apart from the load's


@dataclass(frozen=True)
class ChaosOptions:
    """How big a chaos run is and what it kills."""

    contacts: int = 10_000
    rate: float = 40.0
    clients: int = 8
    kills_per_service: int = 3
    kill_broker: bool = True
    kill_database: bool = True
    kill_everything: bool = True
    seed: int = 1
    data_dir: Path = Path(".crimerec-chaos")
    database_url: str | None = None
    kafka_bootstrap: str | None = None


@dataclass
class ChaosResult:
    """Everything a chaos run measured."""

    load: LoadResult
    kills: list[Kill]
    verdict: Verdict

    @property
    def held(self) -> bool:
        """True when nothing acknowledged was lost or duplicated, no flag was wrong and every kill recovered."""
        return (
            self.verdict.lost == 0
            and self.verdict.duplicated == 0
            and not self.load.refused
            and self.verdict.flags_found == self.verdict.flags_expected
            and all(k.ready_s is not None and k.through_s is not None for k in self.kills)
        )


def run_chaos(options: ChaosOptions, console: Console) -> ChaosResult:
    """Starts `crimerec up` on a fresh folder, loads it while killing its processes, counts, prints the tables."""
    data_dir = options.data_dir.resolve()
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh stack: the count is of this run alone
    up = UpProcess(data_dir, database_url=options.database_url, kafka_bootstrap=options.kafka_bootstrap)
    up.start()
    try:
        result = asyncio.run(_run(up, options, console))
    finally:
        up.stop()
    print_report(result, options, console)
    return result


async def _run(up: UpProcess, options: ChaosOptions, console: Console) -> ChaosResult:
    await up.wait_ready()
    key = json.loads((up.data_dir / "demo-keys.json").read_text())["call_handler"]
    run_id = uuid.uuid4().hex[:8]
    load = ContactLoad(
        intake=up.url("intake"), key=key, run_id=run_id, total=options.contacts, rate=options.rate,
        clients=options.clients,
    )  # fmt: skip
    embedded_broker, embedded_db = options.kafka_bootstrap is None, options.database_url is None
    plan = kill_plan(
        kills_per_service=options.kills_per_service,
        broker=options.kill_broker and embedded_broker,  # only what this run started is ever killed
        database=options.kill_database and embedded_db,
        everything=options.kill_everything,
        seed=options.seed,
    )
    duration = options.contacts / options.rate
    probes = _Probes(load)
    injector = FaultInjector(up=up, plan=plan, seed=options.seed, probe=probes.post)
    console.print(f"chaos run {run_id}: {options.contacts} contacts at {options.rate}/s, kills: {', '.join(plan)}")
    started = time.monotonic()
    loading = asyncio.create_task(load.run())
    kills = await injector.run(started, duration)
    result = await loading
    console.print(f"load done: {len(result.acknowledged)} of {result.sent} acknowledged; counting…")
    ids = list(result.acknowledged.values())
    verdict = await settle_and_count(up.database_dsn(), ids, run_id)
    return ChaosResult(load=result, kills=kills, verdict=verdict)


class _Probes:
    """Contacts posted at each kill to time the pipeline's recovery; acknowledged ones count like any other."""

    def __init__(self, load: ContactLoad) -> None:
        self.load = load
        self.number = PROBE_BASE

    async def post(self) -> uuid.UUID | None:
        number, self.number = self.number, self.number + 1
        self.load.result.sent += 1
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.load.post_until_answered(client, number), 120)
        return self.load.result.acknowledged.get(number)


def print_report(result: ChaosResult, options: ChaosOptions, console: Console) -> None:
    """The chaos table: what was sent, acknowledged, recorded, duplicated and lost, and each kill's recovery."""
    v, load = result.verdict, result.load
    summary = Table(title="chaos run: what intake acknowledged, and what became of it")
    summary.add_column("measure")
    summary.add_column("count", justify="right")
    rows = [
        ("contacts sent", load.sent),
        ("POST attempts (retries after errors and kills)", load.attempts),
        ("acknowledged by intake (201/200)", v.acknowledged),
        ("refused by intake (4xx)", len(load.refused)),
        ("stored by intake", v.stages.get("stored", 0)),
        ("decided at first contact (recorder)", v.stages.get("decided", 0)),
        ("with their crime recorded", v.stages.get("recorded", 0)),
        ("audited (auditor projection)", v.stages.get("audited", 0)),
        ("decision back at intake", v.stages.get("answered", 0)),
        ("lost (acknowledged, missing at some stage)", v.lost),
        *((f"duplicate {name}", n) for name, n in v.duplicates.items()),
        ("intake rows beyond the acknowledged", max(v.intake_rows_of_run - v.acknowledged, 0)),
        ("flags expected / found", f"{v.flags_expected} / {v.flags_found}"),
        ("alert events about these contacts", v.alerts_found),
        ("seconds to settle after the load", f"{v.settle_s:.1f}"),
    ]
    for name, value in rows:
        summary.add_row(name, str(value))
    console.print(summary)
    kills = Table(title=f"kills (target: every service back within {RECOVERY_TARGET_S:.0f} s)")
    for column in ("#", "target", "at s", "pids", "ready after s", "contact through after s"):
        kills.add_column(column, justify="right" if column != "target" else "left")
    for i, k in enumerate(result.kills, 1):
        kills.add_row(
            str(i), k.target, f"{k.at_s:.1f}", " ".join(map(str, k.pids)), _secs(k.ready_s), _secs(k.through_s)
        )
    console.print(kills)
    console.print("[green]held: nothing lost, nothing duplicated" if result.held else "[red]FAILED: see the tables")


def _secs(value: float | None) -> str:
    if value is None:
        return "[red]never"
    text = f"{value:.1f}"
    return text if value <= RECOVERY_TARGET_S else f"[yellow]{text}"
