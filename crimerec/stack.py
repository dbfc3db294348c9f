"""The three services as the CLI knows them: how to build, migrate and re-seed each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Table

from schemas.events import Role
from services.auditor import app as auditor_app
from services.auditor import models as auditor_models
from services.console import app as console_app
from services.console import models as console_models
from services.intake import app as intake_app
from services.intake import models as intake_models
from services.recorder import app as recorder_app
from services.recorder import models as recorder_models
from services.runtime import auth, migrate
from services.runtime.database import create_engine
from services.runtime.producer import ensure_topics
from services.runtime.relay import republish_outbox
from services.runtime.settings import EngineSettings


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name, default port, app factory, schema and outbox."""

    name: str
    default_port: int
    create_app: Callable[[], FastAPI]
    migrations: Path
    schema: str
    outbox: Table | None  # None for the console, which publishes nothing


def _migrations(module: object) -> Path:
    return Path(str(module.__file__)).parent / "migrations"  # type: ignore[attr-defined]


SERVICES: dict[str, ServiceSpec] = {
    "intake": ServiceSpec(
        "intake",
        8001,
        intake_app.create_app,
        _migrations(intake_app),
        intake_models.SCHEMA,
        intake_models.outbox,
    ),
    "recorder": ServiceSpec(
        "recorder",
        8002,
        recorder_app.create_app,
        _migrations(recorder_app),
        recorder_models.SCHEMA,
        recorder_models.outbox,
    ),
    "auditor": ServiceSpec(
        "auditor",
        8003,
        auditor_app.create_app,
        _migrations(auditor_app),
        auditor_models.SCHEMA,
        auditor_models.outbox,
    ),
}

# The console publishes and consumes nothing (pages over the three services' APIs), so it has no outbox and is
# kept apart from SERVICES, whose every member the broker is re-seeded from.
CONSOLE = ServiceSpec(
    "console",
    8004,
    console_app.create_app,
    _migrations(console_app),
    console_models.SCHEMA,
    None,
)
PROCESSES: dict[str, ServiceSpec] = SERVICES | {"console": CONSOLE}
"""Every process `crimerec up` runs, by name."""

RUNTIME_MIGRATIONS = Path(auth.__file__).parent / "migrations"

DEMO_ROLES = [Role.CALL_HANDLER, Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR, Role.ADMIN]


def migrate_all(database_url: str) -> None:
    """Brings the shared `auth` schema and every service's schema to their newest revision."""
    migrate.upgrade(RUNTIME_MIGRATIONS, database_url=database_url, schema=auth.AUTH_SCHEMA)
    for spec in PROCESSES.values():
        migrate.upgrade(spec.migrations, database_url=database_url, schema=spec.schema)


async def prepare_broker(engines: EngineSettings, *, republish: bool) -> int:
    """Creates the topics; with `republish`, re-seeds them from every outbox (a broker that lost its log)."""
    await ensure_topics(engines)
    if not republish:
        return 0
    engine = create_engine(engines)
    try:
        counts = [await republish_outbox(engine, spec.outbox) for spec in SERVICES.values() if spec.outbox is not None]
    finally:
        await engine.dispose()
    return sum(counts)


async def issue_keys(engines: EngineSettings, *, force: str, roles: list[Role], label: str) -> dict[str, str]:
    """Issues one key per role for a force; returns role → key."""
    engine = create_engine(engines)
    try:
        return {role.value: await auth.issue_key(engine, roles=[role], force=force, label=label) for role in roles}
    finally:
        await engine.dispose()


async def keys_known(engines: EngineSettings, keys: list[str]) -> bool:
    """True when the database knows every one of these keys (and none is revoked)."""
    engine = create_engine(engines)
    try:
        verifier = auth.KeyVerifier(engine, cache_seconds=0)
        return all([await verifier.verify(key) is not None for key in keys])
    finally:
        await engine.dispose()
