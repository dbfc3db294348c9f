"""The auditor as a running service: `create_app(settings)`."""

from datetime import timedelta

from fastapi import FastAPI

from services.auditor import api, handlers
from services.auditor.models import SCHEMA, access_log, access_log_seals, inbox, outbox
from services.auditor.settings import AuditorSettings
from services.runtime.access_log import AccessLog
from services.runtime.http import ServiceRuntime
from services.runtime.http import create_app as create_service_app

DESCRIPTION = """
**auditor** reads every contact and every recording event, keeps its own pseudonymous projection, and shows for
each contact what the counting rules expected, what was recorded and whether it was on time. Authenticate with
`Authorization: Bearer <key>` (auditor, fcr, supervisor or ddm of your force).
"""


def create_app(settings: AuditorSettings | None = None) -> FastAPI:
    """The auditor HTTP app with its projection consumer."""
    settings = settings or AuditorSettings()
    runtime = ServiceRuntime(
        name="auditor",
        schema=SCHEMA,
        settings=settings,
        outbox=outbox,
        inbox=inbox,
        access_log=AccessLog(access_log, access_log_seals),
        subscriptions=handlers.subscriptions(limit=timedelta(hours=settings.recording_limit_hours)),
    )
    app = create_service_app(runtime, title="crimerec auditor", description=DESCRIPTION, routers=[api.router])
    app.state.settings = settings
    return app
