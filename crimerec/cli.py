"""`crimerec`: run the services (`up`, `serve`), migrate, issue keys, re-seed topics."""

from __future__ import annotations

import asyncio
import gc
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from crimerec import stack
from crimerec.screening import app as screening_app
from schemas.catalogue import FORCES
from schemas.events import Role
from services.runtime.settings import EngineSettings

if TYPE_CHECKING:
    from rich.table import Table

    from crimerec.deadletters import DeadLetter

app = typer.Typer(help="crimerec: first-contact crime recording (intake, recorder, auditor).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outboxes and topics.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
deadletters_app = typer.Typer(help="Dead letters: events a consumer could not handle.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(screening_app, name="screening")
app.add_typer(deadletters_app, name="deadletters")
console = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="postgresql+asyncpg:// URL; default: $CRIMEREC_DATABASE_URL."),
]
KafkaBootstrap = Annotated[
    str | None,
    typer.Option("--kafka-bootstrap", help="host:port of Kafka; default: $CRIMEREC_KAFKA_BOOTSTRAP."),
]


def _engines(database_url: str | None, kafka_bootstrap: str | None) -> EngineSettings:
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if kafka_bootstrap:
        overrides["kafka_bootstrap"] = kafka_bootstrap
    return EngineSettings(**overrides)  # type: ignore[arg-type]


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="intake, recorder, auditor or console")],
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default 8001/8002/8003.")] = None,
) -> None:
    """Runs one service (HTTP API, outbox relay and consumers) in this process."""
    import uvicorn

    from services.runtime.logs import configure_logging

    spec = stack.PROCESSES.get(service)
    if spec is None:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(stack.PROCESSES)}")
    app_ = spec.create_app()
    settings = app_.state.settings
    configure_logging(service, settings.log_level)
    # Each event and request makes thousands of short-lived objects, and a consumer's batch of 2000 events keeps
    # hundreds of thousands alive until it commits: a young collection in the middle of a batch scans live objects
    # only to promote them. So the young generation is collected only past 500,000 (CPython counts objects still
    # alive, so freed batches never reach it), and what startup built (modules, catalogue, app) is taken out of the
    # collector's sight. Measured: at 50,000 the collector took about a tenth of the recorder's CPU in
    # bench/recorder.py and at 500,000 it no longer ran there; the auditor's replay is unchanged.
    gc.set_threshold(500_000, 20, 20)
    gc.freeze()
    uvicorn.run(
        app_,
        host=host or settings.host,
        port=settings.port if port is None else port,  # 0: any free port
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Brings every schema (auth, intake, recorder, auditor) to its newest revision."""
    engines = _engines(database_url, None)
    stack.migrate_all(engines.database_url.get_secret_value())
    console.print("[green]migrated[/] auth, " + ", ".join(stack.SERVICES))


@keys_app.command("issue")
def keys_issue(
    role: Annotated[list[Role], typer.Option("--role", help="Role of the key (repeat for several).")],
    force: Annotated[str, typer.Option("--force", help="Force code, e.g. GMP.")],
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    expires_in_days: Annotated[int, typer.Option(min=1, max=366, help="Days until the key stops working.")] = 90,
    database_url: DatabaseUrl = None,
) -> None:
    """Issues an API key and prints it (it is stored hashed and cannot be shown again); it expires."""
    if force not in FORCES:
        raise typer.BadParameter(f"unknown force {force!r}; e.g. GMP, MPS, WMP")
    from services.runtime.auth import issue_key
    from services.runtime.database import create_engine

    async def issue() -> str:
        engine = create_engine(_engines(database_url, None))
        try:
            return await issue_key(
                engine, roles=role, force=force, label=label, expires_in=timedelta(days=expires_in_days)
            )
        finally:
            await engine.dispose()

    print(asyncio.run(issue()))


@app.command()
def lag(kafka_bootstrap: KafkaBootstrap = None) -> None:
    """How many records each consumer group has not committed past, per topic (end offsets by a fetch's high
    watermark, right on the embedded broker too)."""
    from rich.table import Table

    from crimerec.reseed import groups_and_topics
    from services.runtime.offsets import group_lag

    engines = _engines(None, kafka_bootstrap)
    table = Table(title="consumer lag (records not committed past)")
    for column in ("group", "topic", "lag"):
        table.add_column(column, justify="right" if column == "lag" else "left")
    for group, names in groups_and_topics().items():
        lags = asyncio.run(group_lag(engines, engines.topic_prefix + group, [engines.topic(n) for n in names]))
        for name in names:
            table.add_row(group, name, str(sum(n for tp, n in lags.items() if tp.topic == engines.topic(name))))
    console.print(table)


@outbox_app.command("republish")
def outbox_republish(database_url: DatabaseUrl = None, kafka_bootstrap: KafkaBootstrap = None) -> None:
    """Re-seeds the topics from every service's retained outbox (after a broker lost its log)."""
    count = asyncio.run(stack.prepare_broker(_engines(database_url, kafka_bootstrap), republish=True, everything=True))
    console.print(f"{count} events marked for publication again; running services publish them now.")


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where the embedded engines keep their data.")] = Path(".crimerec"),
    database_url: DatabaseUrl = None,
    kafka_bootstrap: KafkaBootstrap = None,
    host: Annotated[str, typer.Option(help="Address the services listen on.")] = "127.0.0.1",
    intake_port: int = 8001,
    recorder_port: int = 8002,
    auditor_port: int = 8003,
    console_port: Annotated[int, typer.Option(help="Port of the web console (pages under /console).")] = 8004,
    kafka_port: Annotated[int, typer.Option(help="Port of the embedded broker.")] = 19092,
    give_up_after: Annotated[
        float, typer.Option(help="Seconds a process may keep failing (never up 30 s) before everything stops.")
    ] = 180.0,
    demo: Annotated[bool, typer.Option(help="Post a few sample contacts once everything is up.")] = False,
    feed: Annotated[bool, typer.Option(help="Print each decision as it is made.")] = True,
    simulation: Annotated[
        bool,
        typer.Option(
            help="Run for `crimerec simulate`: simulated time, the auditor on event time, and the cancellation "
            "authority matrix audited rather than enforced (so the auditor has wrong authorisers to find)."
        ),
    ] = False,
) -> None:
    """Starts everything: embedded PostgreSQL and broker (unless URLs are given), migrations, the three services and
    the console."""
    from crimerec.supervisor import Stack

    stack_ = Stack(
        data_dir=data_dir.resolve(),
        database_url=database_url or os.environ.get("CRIMEREC_DATABASE_URL"),
        kafka_bootstrap=kafka_bootstrap or os.environ.get("CRIMEREC_KAFKA_BOOTSTRAP"),
        host=host,
        ports={"intake": intake_port, "recorder": recorder_port, "auditor": auditor_port, "console": console_port},
        kafka_port=kafka_port,
        console=console,
        simulation=simulation,
        give_up_after=give_up_after,
    )
    raise typer.Exit(stack_.run(demo=demo, feed=feed and not simulation))


@app.command()
def simulate(
    profile: Annotated[str, typer.Option(help="A shipped profile (default, gmp-2016) or a profile file.")] = "default",
    days: Annotated[float, typer.Option(help="Simulated days of contacts.", min=0.01, max=366)] = 7,
    start: Annotated[str | None, typer.Option(help="First simulated day (YYYY-MM-DD); default: days ago.")] = None,
    speed: Annotated[str, typer.Option(help="'max', or how many simulated seconds pass each real second.")] = "max",
    seed: Annotated[int, typer.Option(help="Same seed, same simulation.")] = 1,
    truth: Annotated[Path, typer.Option(help="Where to write the ground truth.")] = Path("truth.json"),
    data_dir: Annotated[Path, typer.Option(help="The `crimerec up` data folder (service URLs, demo keys).")] = Path(
        ".crimerec"
    ),
) -> None:
    """Plays a force's contacts and people through the running system (`crimerec up --simulation`), and writes
    the ground truth for `crimerec evaluate`."""
    from crimerec.simulation.run import run_simulation

    raise typer.Exit(run_simulation(profile, days, start, speed, seed, truth, data_dir, console))


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option(help="The ground truth `crimerec simulate` wrote.")] = Path("truth.json"),
    out: Annotated[Path, typer.Option(help="Where to write the evaluation as JSON.")] = Path("evaluation.json"),
    data_dir: Annotated[Path, typer.Option(help="The `crimerec up` data folder (service URLs, demo keys).")] = Path(
        ".crimerec"
    ),
) -> None:
    """Compares the auditor's flags, recording rate and cancellation table with the ground truth; exits 1 when
    anything misses the bar."""
    from crimerec.simulation.run import run_evaluation

    raise typer.Exit(run_evaluation(truth, out, data_dir, console))


@app.command()
def chaos(
    contacts: Annotated[int, typer.Option(help="Contacts to post.", min=1)] = 10_000,
    rate: Annotated[float, typer.Option(help="Contacts a second, all clients together.", min=0.1)] = 40.0,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.", min=1)] = 8,
    kills_per_service: Annotated[int, typer.Option(help="SIGKILLs of each of intake, recorder, auditor.")] = 3,
    kill_broker: Annotated[bool, typer.Option(help="SIGKILL the embedded broker once (it loses its log).")] = True,
    kill_database: Annotated[bool, typer.Option(help="SIGKILL the embedded PostgreSQL once.")] = True,
    kill_everything: Annotated[bool, typer.Option(help="SIGKILL `crimerec up` and all it started, once.")] = True,
    seed: Annotated[int, typer.Option(help="Same seed, same kill order and moments.")] = 1,
    data_dir: Annotated[Path, typer.Option(help="State folder of the run's stack (emptied first).")] = Path(
        ".crimerec-chaos"
    ),
    database_url: DatabaseUrl = None,
    kafka_bootstrap: KafkaBootstrap = None,
) -> None:
    """Runs the whole stack under load while SIGKILLing its processes, then checks that every contact intake
    acknowledged was recorded exactly once; exits 1 on any loss or duplicate."""
    from crimerec.chaos.run import ChaosOptions, run_chaos

    options = ChaosOptions(
        contacts=contacts, rate=rate, clients=clients, kills_per_service=kills_per_service, kill_broker=kill_broker,
        kill_database=kill_database, kill_everything=kill_everything, seed=seed, data_dir=data_dir,
        database_url=database_url, kafka_bootstrap=kafka_bootstrap,
    )  # fmt: skip
    raise typer.Exit(0 if run_chaos(options, console).held else 1)


def _dead_letters_table(title: str, letters: list[DeadLetter]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in ("dead letter", "source topic", "partition", "offset", "consumer", "tries", "reason"):
        table.add_column(column)
    for d in letters:
        where = f"{d.dlq_topic}:{d.dlq_partition}:{d.dlq_offset}"
        reason = f"{d.error_type}: {d.reason}" if d.error_type else d.reason
        table.add_row(
            where, d.source_topic, str(d.source_partition), str(d.source_offset), d.consumer, str(d.attempts or ""),
            reason[:160],
        )  # fmt: skip
    return table


@deadletters_app.command("list")
def deadletters_list(kafka_bootstrap: KafkaBootstrap = None) -> None:
    """Lists every dead letter: why it was refused, and the topic, partition and offset it came from."""
    from crimerec.deadletters import list_dead_letters

    letters = asyncio.run(list_dead_letters(_engines(None, kafka_bootstrap)))
    console.print(_dead_letters_table(f"{len(letters)} dead letters", letters))


@deadletters_app.command("replay")
def deadletters_replay(
    source_topic: Annotated[str | None, typer.Option(help="Only the dead letters of this topic.")] = None,
    kafka_bootstrap: KafkaBootstrap = None,
) -> None:
    """Puts every dead letter not yet replayed back on its source topic (after the fix that lets it through)."""
    from crimerec.deadletters import replay_dead_letters

    letters = asyncio.run(replay_dead_letters(_engines(None, kafka_bootstrap), source_topic=source_topic))
    console.print(_dead_letters_table(f"replayed {len(letters)} dead letters", letters))


@app.command("audit-dependencies")
def audit_dependencies(
    lock: Annotated[Path, typer.Argument(help="The lock file: name==version per line.")] = Path("requirements.lock"),
    strict: Annotated[bool, typer.Option(help="Fail on any pin whose advisories cannot be read here.")] = False,
    max_behind_days: Annotated[
        int, typer.Option(help="How long a pin may stay unchecked behind a newer release before it fails.")
    ] = 7,
    index: Annotated[str, typer.Option(help="PyPI's address.")] = "https://pypi.org",
) -> None:
    """Known vulnerabilities in the locked dependencies, from PyPI's advisory data (see crimerec/dependency_audit)."""
    from rich.markup import escape
    from rich.progress import Progress
    from rich.table import Table

    from crimerec import dependency_audit as da

    try:
        pins = da.read_lock(lock.read_text().splitlines())
    except (OSError, da.LockError) as e:
        console.print(f"[red]audit-dependencies: {escape(str(lock))}: {escape(str(e))}[/red]")
        raise typer.Exit(2) from e
    if not pins:
        console.print(f"[red]audit-dependencies: {escape(str(lock))} pins nothing: there is nothing to audit[/red]")
        raise typer.Exit(2)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"asking PyPI about {len(pins)} pins", total=len(pins))
        report = da.audit(pins, index=index, progress=lambda _: bar.advance(task))
    now = da.now()
    failures = report.failures(now=now, max_behind=timedelta(days=max_behind_days), strict=strict)
    shown = [f for f in report.findings if f.verdict != da.Verdict.CLEAN]
    if shown:
        table = Table(title="pins that are not plainly clean")
        for column in ("pin", "verdict", "latest", "detail", "fails"):
            table.add_column(column)
        for f in shown:
            detail = "; ".join(f.advisories) or f.reason
            if f.verdict == da.Verdict.BEHIND:
                detail = "advisories not readable here; " + (
                    f"newer since {f.behind_since:%Y-%m-%d} ({(now - f.behind_since).days} d)"
                    if f.behind_since is not None
                    else "no newer release fits this Python and the other pins"
                )
            table.add_row(
                escape(f"{f.pin.name}=={f.pin.version}"), f.verdict, escape(f.latest), escape(detail),
                "yes" if f in failures else "",
            )  # fmt: skip
        console.print(table)
    clean = report.of(da.Verdict.CLEAN)
    console.print(
        f"{len(pins)} pins: {len(clean)} checked clean "
        f"({sum(f.source == 'release' for f in clean)} from their release's advisories, "
        f"{sum(f.source == 'project' for f in clean)} as their project's latest release), "
        f"{len(report.of(da.Verdict.VULNERABLE))} vulnerable, {len(report.of(da.Verdict.YANKED))} yanked, "
        f"{len(report.of(da.Verdict.BEHIND))} behind and unreadable here, {len(report.of(da.Verdict.FAILED))} "
        f"failed; {len(failures)} fail the audit"
    )
    if not report.checked():
        console.print("[red]no pin's advisories could be read: an audit that checked nothing does not pass[/red]")
    raise typer.Exit(1 if failures or not report.checked() else 0)
