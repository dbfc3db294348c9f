"""The CLI's side of `crimerec simulate` and `crimerec evaluate`: URLs and keys from `crimerec up`, a progress
bar, the truth file, and the evaluation table."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crimerec.simulation import simulate
from crimerec.simulation.driver import Clients, SimulationError
from crimerec.simulation.evaluate import evaluate, passed, read_auditor
from crimerec.simulation.plan import Profile, plan

TIMEOUT = httpx.Timeout(30.0)


def _stack(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    services, keys = data_dir / "services.json", data_dir / "demo-keys.json"
    if not services.exists() or not keys.exists():
        raise SimulationError(f"no running system in {data_dir}: start one with `crimerec up --simulation`")
    urls = {name: entry["url"] for name, entry in json.loads(services.read_text()).items()}
    return urls, json.loads(keys.read_text())


def _clients(urls: dict[str, str]) -> Clients:
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: a reused connection the server has
    # just closed fails a request mid-flight (seen while the driver waited at a barrier).
    limits = httpx.Limits(max_connections=32, keepalive_expiry=2.0)
    return Clients(
        *(
            httpx.AsyncClient(base_url=urls[name], timeout=TIMEOUT, limits=limits)
            for name in ("intake", "recorder", "auditor")
        )
    )


def run_simulation(
    profile_name: str, days: float, start: str | None, speed: str, seed: int, truth_path: Path, data_dir: Path,
    console: Console,
) -> int:  # fmt: skip
    """Plans, plays and writes the truth; returns the exit code."""
    try:
        profile = Profile.load(profile_name)
        urls, keys = _stack(data_dir)
    except (ValueError, SimulationError) as exc:
        console.print(f"[red]{exc}")
        return 2
    first = (
        datetime.fromisoformat(start).replace(tzinfo=UTC)
        if start
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    )
    factor = None if speed == "max" else float(speed)
    force = "GMP"
    the_plan = plan(profile, seed=seed, force=force, start=first, days=days, run=uuid.uuid4().hex[:6])
    console.print(
        f"simulating {days:g} days of {profile.name} for {force} from {first.date()}: "
        f"{len(the_plan.contacts)} contacts, {len(the_plan.steps)} steps"
    )

    async def play() -> dict[str, Any]:
        clients = _clients(urls)
        try:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console,
            ) as progress:  # fmt: skip
                task = progress.add_task("posting contacts and people's actions", total=len(the_plan.steps))
                return await simulate(
                    the_plan, clients, keys, speed=factor, advance=lambda n: progress.advance(task, n)
                )
        finally:
            for client in (clients.intake, clients.recorder, clients.auditor):
                await client.aclose()

    try:
        truth = asyncio.run(play())
    except (SimulationError, httpx.HTTPError) as exc:
        console.print(f"[red]{exc}")
        return 1
    truth_path.write_text(json.dumps(truth, indent=1))
    stats = truth["run_stats"]
    console.print(
        f"{stats['contacts']} contacts and {stats['steps'] - stats['contacts']} actions in {stats['seconds']:.0f} s "
        f"({stats['contacts_per_second']} simulated contacts/s); truth written to {truth_path}"
    )
    for refusal in stats["refused"]:
        console.print(f"[yellow]refused: {refusal}")
    return 1 if stats["refused"] else 0


def run_evaluation(truth_path: Path, out: Path, data_dir: Path, console: Console) -> int:
    """Reads the truth and the auditor, prints the tables, writes the JSON; returns the exit code."""
    try:
        urls, keys = _stack(data_dir)
        truth = json.loads(truth_path.read_text())
    except (OSError, SimulationError) as exc:
        console.print(f"[red]{exc}")
        return 2

    async def read() -> Any:
        async with httpx.AsyncClient(base_url=urls["auditor"], timeout=TIMEOUT) as client:
            with console.status("waiting for the auditor to judge every event…"):
                return await read_auditor(client, keys["auditor"], truth)

    try:
        view = asyncio.run(read())
    except (SimulationError, httpx.HTTPError) as exc:
        console.print(f"[red]{exc}")
        return 1
    result = evaluate(truth, view)
    out.write_text(json.dumps(result, indent=1))
    show(result, console)
    failures = passed(result)
    for failure in failures:
        console.print(f"[red]✗ {failure}")
    if not failures:
        console.print("[green]✓ every rule exact, the true rate inside the auditor's interval, cancellations equal")
    console.print(f"written to {out}")
    return 1 if failures else 0


def show(result: dict[str, Any], console: Console) -> None:
    """The evaluation as tables."""
    rules = Table(title=f"Flags against the truth — {result['profile']}, {result['force']}")
    for column in ("rule", "injected", "TP", "FP", "FN", "precision", "recall"):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    for row in result["rules"]:
        rules.add_row(
            row["rule"], str(row["injected"]), str(row["true_positives"]), str(row["false_positives"]),
            str(row["false_negatives"]), _pct(row["precision"]), _pct(row["recall"]),
        )  # fmt: skip
    hidden = result["hidden_in_narrative"]
    rules.add_row("hidden in narrative", str(hidden["crimes"]), "–", "–", str(hidden["crimes"]), "–", "0 (not visible)")
    console.print(rules)
    rates = Table(title="Recording rate")
    for column in ("group", "true", "true (visible in events)", "auditor", "auditor 95% interval", "inside"):
        rates.add_column(column)
    for group, row in result["recording_rate"].items():
        a = row["auditor"]
        interval = f"{_pct(a['ci_low'])} – {_pct(a['ci_high'])}" if a["ci_low"] is not None else "–"
        rates.add_row(
            group, _pct(row["true_rate"]), _pct(row["true_rate_visible_in_events"]), _pct(a["rate"]), interval,
            "✓" if row["true_visible_rate_within_auditor_interval"] else "✗",
        )  # fmt: skip
    console.print(rates)
    cancellations = Table(title="Cancellations correct")
    for column in ("category", "injected", "auditor", "equal"):
        cancellations.add_column(column)
    for row in result["cancellations"]:
        cancellations.add_row(row["audit_category"], row["injected"], row["auditor"], "✓" if row["equal"] else "✗")
    console.print(cancellations)
    annual = result["annual_estimate"]
    console.print(
        f"Unrecorded crimes a year (R = {annual['recorded_crime_12_months']}): auditor {_num(annual['auditor'])}, "
        f"truth {_num(annual['truth'])}"
    )
    if "screening" in result:
        show_screening(result["screening"], console)


def show_screening(screening: dict[str, Any], console: Console) -> None:
    """The narrative screener's precision and recall, overall and per offence family, as a table."""
    table = Table(title=f"Narrative screening — {screening['contacts']} contacts not recorded at first contact")
    for column in ("family", "disclosing a crime", "screened positive", "family named", "recall"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family, row in screening["by_family"].items():
        table.add_row(
            family, str(row["disclosed"]), str(row["screened_positive"]), str(row["family_named"]), _pct(row["recall"])
        )
    console.print(table)
    console.print(
        f"screened positive {screening['screened_positive']}: precision {_pct(screening['precision'])}, "
        f"recall {_pct(screening['recall'])}; {screening['false_positives']} false positives, "
        f"{screening['false_negatives']} missed, {screening['not_screened']} not screened"
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"
