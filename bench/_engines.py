"""Engines for a benchmark run: a fresh database on $CRIMEREC_DATABASE_URL's server or an embedded PostgreSQL,
and an embedded broker (or $CRIMEREC_KAFKA_BOOTSTRAP)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from crimerec import stack
from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres
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
