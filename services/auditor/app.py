"""The auditor as a running service: `create_app(settings)`."""

from fastapi import FastAPI

from schemas.catalogue import OffenceCatalogue
from services.auditor import api, handlers, judging, service, stats_api
from services.auditor.alerts import jobs as alert_jobs
from services.auditor.alerts import stream, subscriptions
from services.auditor.alerts.destinations import Resolver
from services.auditor.models import SCHEMA, access_log, access_log_seals, inbox, outbox
from services.auditor.rules.standard import Standard
from services.auditor.settings import AuditorSettings
from services.runtime.access_log import AccessLog
from services.runtime.http import create_app as create_service_app
from services.runtime.service_runtime import ServiceRuntime

DESCRIPTION = """
**auditor** reads every contact and every recording event, keeps its own pseudonymous projection, and flags what
the inspectorate would find — missing and late records, under-counting, unjustified non-crime decisions, rapes
without an N100, improper cancellations, downgrades — the moment each can be known. Authenticate with
`Authorization: Bearer <key>` (auditor, fcr, supervisor or ddm of your force).
"""


def create_app(settings: AuditorSettings | None = None, *, resolver: Resolver | None = None) -> FastAPI:
    """The auditor HTTP app with its projection consumer, deadline sweeper and webhook deliverer (which resolves
    callback hosts with `resolver`, the system's by default)."""
    settings = settings or AuditorSettings()
    destinations = alert_jobs.destinations(settings, resolver)
    standard = Standard(
        catalogue=OffenceCatalogue.default(), policy=settings.policy(), event_time=settings.clock == "event_time"
    )

    async def sweep(runtime: ServiceRuntime) -> None:
        now = judging.judging_time(runtime, event_time=standard.event_time)
        if now is None:
            return
        async with runtime.unit_of_work() as uow:
            await service.sweep_deadlines(uow, now=now, standard=standard)

    runtime = ServiceRuntime(
        name="auditor",
        schema=SCHEMA,
        settings=settings,
        outbox=outbox,
        inbox=inbox,
        access_log=AccessLog(access_log, access_log_seals),
        subscriptions=handlers.subscriptions(standard=standard),
        housekeeping=[
            ("deadline-sweeper", (settings.sweep_seconds, sweep)),
            *alert_jobs.housekeeping(settings, destinations),
        ],
    )
    app = create_service_app(
        runtime,
        title="crimerec auditor",
        description=DESCRIPTION,
        routers=[api.router, stats_api.router, stream.router, subscriptions.router],
    )
    app.state.settings = settings
    app.state.destinations = destinations
    app.state.standard = standard
    return app
