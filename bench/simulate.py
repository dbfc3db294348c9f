"""The issue's run: the GMP 2016 profile played through intake and the recorder at full speed against three
service processes on simulated time, then evaluated against the truth.

    python bench/simulate.py [--days 30] [--profile gmp-2016] [--seed 1]

Prints simulated contacts per second, the real time end to end (play and evaluate), what a full year would take
at that rate (issue 21: ≤ 10 minutes; extrapolated from the days run, said so, unless --days 365), how much of it
was spent waiting at barriers, the peak resident memory of each service process (issue 21: < 250 MB), and the
evaluation (per rule precision and recall, recording rate against the truth, cancellation table); writes
bench-simulate-truth.json and bench-simulate-evaluation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _engines import bench_engines, engine_env, services_running
from rich.console import Console

from crimerec import stack
from crimerec.simulation import simulate
from crimerec.simulation.evaluate import evaluate, passed, read_auditor
from crimerec.simulation.plan import Profile, plan
from crimerec.simulation.run import _clients, show

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--profile", default="gmp-2016")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    planned = time.monotonic()
    the_plan = plan(
        Profile.load(args.profile), seed=args.seed, force="GMP", start=datetime(2016, 3, 1, tzinfo=UTC),
        days=args.days, run=uuid.uuid4().hex[:6],
    )  # fmt: skip
    planning = time.monotonic() - planned
    console.print(
        f"{args.profile}, {args.days:g} days: {len(the_plan.contacts):,} contacts, {len(the_plan.steps):,} steps"
    )
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        keys = asyncio.run(stack.issue_keys(engines, force="GMP", roles=stack.DEMO_ROLES, label="bench"))
        env = engine_env(engines) | {f"CRIMEREC_{s.upper()}_LOG_LEVEL": "WARNING" for s in stack.SERVICES}
        env |= {
            "CRIMEREC_SIMULATED_CLOCK": "true",
            "CRIMEREC_AUDITOR_CLOCK": "event_time",
            "CRIMEREC_RECORDER_AUTHORITY": '{"mode": "audit"}',
        }
        with services_running(stack.SERVICES, env, Path(tmp)) as urls:

            async def run() -> tuple[dict, dict]:
                clients = _clients(urls)
                truth = await simulate(the_plan, clients, keys)
                async with httpx.AsyncClient(base_url=urls["auditor"], timeout=30) as client:
                    view = await read_auditor(client, keys["auditor"], truth, patience=1800)
                for c in (clients.intake, clients.recorder, clients.auditor):
                    await c.aclose()
                return truth, evaluate(truth, view)

            began = time.monotonic()
            try:
                truth, result = asyncio.run(run())
            except Exception:
                for log in sorted(Path(tmp).glob("*.log")):  # the services' side of a failure, before it is deleted
                    console.print(f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
                raise
            end_to_end = time.monotonic() - began
            peaks = peak_rss()
    report(truth, result, days=args.days, planning=planning, end_to_end=end_to_end, peaks=peaks)


def report(
    truth: dict, result: dict, *, days: float, planning: float, end_to_end: float, peaks: dict[str, int]
) -> None:
    """Writes the truth and the evaluation; prints them, the speed, a year at that speed, and the memory."""
    Path("bench-simulate-truth.json").write_text(json.dumps(truth, indent=1))
    Path("bench-simulate-evaluation.json").write_text(json.dumps(result, indent=1))
    stats = truth["run_stats"]
    show(result, console)
    console.print(
        f"simulated {stats['contacts']:,} contacts and {stats['steps'] - stats['contacts']:,} actions in "
        f"{stats['seconds']:.0f} s: {stats['contacts_per_second']} simulated contacts/s; "
        f"refused: {len(stats['refused'])}"
    )
    total = planning + end_to_end
    console.print(
        f"end to end: {total:.0f} s for {days:g} days (planning {planning:.0f} s, playing and evaluating "
        f"{end_to_end:.0f} s, of which {stats['waiting_seconds']:.0f} s at {stats['barriers']:,} barriers, "
        f"{stats['settling_seconds']:.0f} s of those for the recorder's decisions); a year "
        + (f"took {total / 60:.1f} min" if days >= 365 else f"would take about {total * 365 / days / 60:.1f} min "
           f"(extrapolated from {days:g} days, not run)")
        + " (issue 21 target: ≤ 10 min)"
    )  # fmt: skip
    for name, kib in sorted(peaks.items()):
        console.print(f"peak RSS {name}: {kib / 1024:.0f} MB (target < 250 MB)")
    failures = passed(result)
    console.print("bar met" if not failures else "bar missed:\n  " + "\n  ".join(failures))


def peak_rss() -> dict[str, int]:
    """Each service process's peak resident memory so far (the kernel's VmHWM, KiB), by service, for this bench's
    `crimerec serve` children and anything they started."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    peaks: dict[str, int] = {}
    for pid in mine:
        try:
            words = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
            status = (Path("/proc") / str(pid) / "status").read_text()
        except OSError:
            continue
        if b"serve" not in words:
            continue
        name = words[words.index(b"serve") + 1].decode()
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peaks[name] = max(peaks.get(name, 0), hwm)
    return peaks


if __name__ == "__main__":
    main()
