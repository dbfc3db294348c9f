"""The issue's 30-day run: the GMP 2016 profile played through intake and the recorder at full speed against
three service processes on simulated time, then evaluated against the truth.

    python bench/simulate.py [--days 30] [--profile gmp-2016] [--seed 1]

Prints simulated contacts per second and the evaluation (per rule precision and recall, recording rate against
the truth, cancellation table); writes bench-simulate-truth.json and bench-simulate-evaluation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
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
    the_plan = plan(
        Profile.load(args.profile), seed=args.seed, force="GMP", start=datetime(2016, 3, 1, tzinfo=UTC),
        days=args.days, run=uuid.uuid4().hex[:6],
    )  # fmt: skip
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

            truth, result = asyncio.run(run())
    Path("bench-simulate-truth.json").write_text(json.dumps(truth, indent=1))
    Path("bench-simulate-evaluation.json").write_text(json.dumps(result, indent=1))
    stats = truth["run_stats"]
    show(result, console)
    console.print(
        f"simulated {stats['contacts']:,} contacts and {stats['steps'] - stats['contacts']:,} actions in "
        f"{stats['seconds']:.0f} s: {stats['contacts_per_second']} simulated contacts/s; "
        f"refused: {len(stats['refused'])}"
    )
    failures = passed(result)
    console.print("bar met" if not failures else "bar missed:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
