"""The three services as the CLI knows them: how to build, migrate and re-seed each."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Table

from schemas.events import Role
from services.auditor import models as auditor_models
from services.console import models as console_models
from services.intake import models as intake_models
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
    app_module: str  # imported only by the process that serves it: a service starts without the others' code
    migrations: Path
    schema: str
    outbox: Table | None  # None for the console, which publishes nothing

    def create_app(self) -> FastAPI:
        """The service's ASGI app, its module imported now."""
        app: FastAPI = importlib.import_module(self.app_module).create_app()
        return app


def _migrations(module: object) -> Path:
    return Path(str(module.__file__)).parent / "migrations"  # type: ignore[attr-defined]


SERVICES: dict[str, ServiceSpec] = {
    "intake": ServiceSpec(
        "intake",
        8001,
        "services.intake.app",
        _migrations(intake_models),
        intake_models.SCHEMA,
        intake_models.outbox,
    ),
    "recorder": ServiceSpec(
        "recorder",
        8002,
        "services.recorder.app",
        _migrations(recorder_models),
        recorder_models.SCHEMA,
        recorder_models.outbox,
    ),
    "auditor": ServiceSpec(
        "auditor",
        8003,
        "services.auditor.app",
        _migrations(auditor_models),
        auditor_models.SCHEMA,
        auditor_models.outbox,
    ),
}

# The console publishes and consumes nothing (pages over the three services' APIs), so it has no outbox and is
# kept apart from SERVICES, whose every member the broker is re-seeded from.
CONSOLE = ServiceSpec(
    "console",
    8004,
    "services.console.app",
    _migrations(console_models),
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


async def prepare_broker(engines: EngineSettings, *, republish: bool, everything: bool = False) -> int:
    """Creates the topics; with `republish`, re-seeds them from the outboxes (a broker that lost its log): the
    events some consuming group has not handled yet, or with `everything` every retained one."""
    await ensure_topics(engines)
    if not republish:
        return 0
    from crimerec.reseed import republish_unhandled

    engine = create_engine(engines)
    try:
        counts = [
            await (republish_outbox(engine, outbox) if everything else republish_unhandled(engine, outbox, engines))
            for outbox in [spec.outbox for spec in SERVICES.values()]
            if outbox is not None
        ]
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
