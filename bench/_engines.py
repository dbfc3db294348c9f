"""Engines for a benchmark run: a fresh database on $CRIMEREC_DATABASE_URL's server or an embedded PostgreSQL,
and an embedded broker (or $CRIMEREC_KAFKA_BOOTSTRAP)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url

from crimerec import stack
from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from services.runtime.database import asyncpg_dsn
from services.runtime.settings import EngineSettings


@contextlib.contextmanager
def bench_engines(work_dir: Path) -> Iterator[EngineSettings]:
    """Migrated database and a broker with topics, torn down afterwards."""
    with contextlib.ExitStack() as stack_:
        server_url = os.environ.get("CRIMEREC_DATABASE_URL")
        if not server_url:
            pg = EmbeddedPostgres(work_dir)
            server_url = pg.start()
            stack_.callback(pg.stop)
        name = f"crimerec_bench_{uuid.uuid4().hex[:8]}"
        admin = asyncpg_dsn(make_url(server_url).set(drivername="postgresql+asyncpg"))

        async def ddl(sql: str) -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(ddl(f'CREATE DATABASE "{name}"'))
        if os.environ.get("CRIMEREC_BENCH_KEEP_DATABASE"):  # to look into the store afterwards (EXPLAIN, psql)
            print(f"the bench's database is kept: {name}", file=sys.stderr)
        else:
            stack_.callback(lambda: asyncio.run(ddl(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
        url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
        bootstrap = os.environ.get("CRIMEREC_KAFKA_BOOTSTRAP")
        if not bootstrap:
            kafka = EmbeddedKafka(work_dir)
            bootstrap = kafka.start()
            stack_.callback(kafka.stop)
        engines = EngineSettings(
            database_url=url,  # type: ignore[arg-type]
            kafka_bootstrap=bootstrap,
            kafka_enable_idempotence=bool(os.environ.get("CRIMEREC_KAFKA_BOOTSTRAP")),
            topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        )
        stack.migrate_all(url)
        asyncio.run(stack.prepare_broker(engines, republish=False))
        yield engines


def engine_env(engines: EngineSettings) -> dict[str, str]:
    """The environment a service process needs to run on these engines."""
    return dict(os.environ) | {
        "CRIMEREC_DATABASE_URL": engines.database_url.get_secret_value(),
        "CRIMEREC_KAFKA_BOOTSTRAP": engines.kafka_bootstrap,
        "CRIMEREC_KAFKA_ENABLE_IDEMPOTENCE": str(engines.kafka_enable_idempotence).lower(),
        "CRIMEREC_TOPIC_PREFIX": engines.topic_prefix,
    }


def start(name: str, port: int, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A service as its own process (`crimerec serve`), its output in `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "crimerec", "serve", name, "--port", str(port)],
        env=dict(env), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready")


@contextlib.contextmanager
def services_running(names: list[str], env: Mapping[str, str], log_dir: Path) -> Iterator[dict[str, str]]:
    """The named services as processes on free ports, ready; their base URLs by name. Stopped afterwards."""
    urls, procs = {}, []
    try:
        for name in names:
            port = free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            procs.append(start(name, port, env, log_dir / f"{name}.log"))
        for url in urls.values():
            wait_ready(url)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


async def wait_for_rows(
    dsn: str, sql: str, total: int, *, description: str, procs: list[subprocess.Popen[bytes]], who: str,
    console: Console,
) -> tuple[float, float]:  # fmt: skip
    """Polls a count until it reaches `total`, while every process (`who`, in the message if one dies) keeps
    running; returns (first row seen at, all seen at), as perf_counter times."""
    conn = await asyncpg.connect(dsn)
    first = None
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(description, total=total)
            while True:
                for proc in procs:
                    if proc.poll() is not None:
                        raise SystemExit(f"{who} exited with {proc.returncode}")
                done = int(await conn.fetchval(sql))
                progress.update(task, completed=done)
                now = time.perf_counter()
                if done and first is None:
                    first = now
                if done >= total:
                    assert first is not None
                    return first, now
                await asyncio.sleep(0.2)
    finally:
        await conn.close()
