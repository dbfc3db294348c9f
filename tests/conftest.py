"""Real engines for the whole test session: PostgreSQL and a Kafka-protocol broker, never mocks.

With `CRIMEREC_DATABASE_URL` set (CI has PostgreSQL 15 on 127.0.0.1:5432), the session creates a fresh database on
that server and drops it at the end; otherwise it starts an embedded PostgreSQL. With `CRIMEREC_KAFKA_BOOTSTRAP`
set, it uses that broker under a fresh topic prefix; otherwise it starts an embedded Tansu broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres
from schemas.events import Role
from services.runtime.database import asyncpg_dsn, create_engine
from services.runtime.settings import EngineSettings

FORCE = "GMP"
OTHER_FORCE = "MPS"


@dataclass
class Server:
    """Where to make databases for this session: an external server or an embedded one."""

    admin_dsn: str  # a libpq DSN to a database we can CREATE DATABASE from
    url_template: str  # SQLAlchemy URL with {database}
    embedded: EmbeddedPostgres | None = None


def _external_server(url: str) -> Server:
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    return Server(
        admin_dsn=asyncpg_dsn(parsed),
        url_template=parsed.set(database="DBNAME").render_as_string(hide_password=False),
    )


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A PostgreSQL server to create test databases on."""
    url = os.environ.get("CRIMEREC_DATABASE_URL")
    if url:
        yield _external_server(url)
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    embedded_url = embedded.start()
    server = _external_server(embedded_url)
    server.embedded = embedded
    yield server
    embedded.stop()


def create_database(server: Server, prefix: str = "crimerec_test") -> str:
    """Creates a fresh database on the server; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_sync(create())
    return server.url_template.replace("DBNAME", name)


def drop_database(server: Server, url: str) -> None:
    """Drops a test database (and whoever is still connected to it)."""
    name = make_url(url).database

    async def drop() -> None:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run_sync(drop())


def _run_sync(coro: object) -> None:
    """Runs a coroutine to completion from sync code, even when an event loop is running in this thread."""
    import threading

    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bool]]:
    """A broker: (bootstrap, is_embedded)."""
    external = os.environ.get("CRIMEREC_KAFKA_BOOTSTRAP")
    if external:
        yield external, False
        return
    broker = EmbeddedKafka(tmp_path_factory.mktemp("kafka"))
    bootstrap = broker.start()
    yield bootstrap, True
    broker.stop()


def engine_settings(database_url: str, kafka: tuple[str, bool], *, topic_prefix: str) -> EngineSettings:
    """Settings for a service under test: fast consumer group joins, idempotence only on real Kafka."""
    bootstrap, embedded = kafka
    return EngineSettings(
        database_url=database_url,  # type: ignore[arg-type]
        kafka_bootstrap=bootstrap,
        kafka_enable_idempotence=not embedded,
        topic_prefix=topic_prefix,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=300,
        database_pool_size=5,
    )


@pytest.fixture(scope="session")
def engines(pg_server: Server, kafka_bootstrap: tuple[str, bool]) -> Iterator[EngineSettings]:
    """The session's database (migrated) and broker (topics created), as the services' engine settings."""
    url = create_database(pg_server)
    settings = engine_settings(url, kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:6]}.")
    stack.migrate_all(url)
    _run_sync(stack.prepare_broker(settings, republish=False))
    yield settings
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
async def db(engines: EngineSettings) -> AsyncIterator[AsyncEngine]:
    """A connection pool to the session's database, for tests that look at what was stored."""
    engine = create_engine(engines)
    yield engine
    await engine.dispose()


@dataclass(frozen=True)
class Keys:
    """API keys of the session, by role, for the main force and another one."""

    mine: dict[Role, str]
    other_force: dict[Role, str]

    def auth(self, role: Role, *, other: bool = False) -> dict[str, str]:
        """An Authorization header for a role."""
        key = (self.other_force if other else self.mine)[role]
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
async def keys(engines: EngineSettings) -> Keys:
    """One key per role for GMP and for MPS."""
    roles = list(Role)
    mine = await stack.issue_keys(engines, force=FORCE, roles=roles, label="test")
    other = await stack.issue_keys(engines, force=OTHER_FORCE, roles=roles, label="test")
    return Keys({Role(r): k for r, k in mine.items()}, {Role(r): k for r, k in other.items()})


@dataclass
class Services:
    """The three services running in this process, each reachable through an HTTP client."""

    intake: httpx.AsyncClient
    recorder: httpx.AsyncClient
    auditor: httpx.AsyncClient


@pytest.fixture(scope="session")
async def services(engines: EngineSettings, keys: Keys) -> AsyncIterator[Services]:
    """intake, recorder and auditor with their relays and consumers, on the session's engines."""
    from services.auditor.app import create_app as auditor_app
    from services.auditor.settings import AuditorSettings
    from services.intake.app import create_app as intake_app
    from services.intake.settings import IntakeSettings
    from services.recorder.app import create_app as recorder_app
    from services.recorder.settings import RecorderSettings
    from tests.support import LOOPBACK_WEBHOOKS

    apps = [
        intake_app(IntakeSettings(engines=engines)),
        recorder_app(RecorderSettings(engines=engines)),
        auditor_app(AuditorSettings(engines=engines, **LOOPBACK_WEBHOOKS)),
    ]
    clients = []
    async with contextlib.AsyncExitStack() as exit_stack:
        for app in apps:
            await exit_stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            clients.append(await exit_stack.enter_async_context(client))
        yield Services(*clients)
