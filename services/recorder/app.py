"""The recorder as a running service: `create_app(settings)`."""

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from schemas.catalogue import OffenceCatalogue
from services.recorder import api, handlers, screening_api
from services.recorder.models import SCHEMA, access_log, access_log_seals, inbox, outbox
from services.recorder.recording import RecorderPolicy
from services.recorder.screening_model import Screener, load_screener
from services.recorder.settings import RecorderSettings
from services.runtime.access_log import AccessLog
from services.runtime.http import create_app as create_service_app
from services.runtime.service_runtime import ServiceRuntime

DESCRIPTION = """
**recorder** applies the National Crime Recording Standard and the Home Office counting rules to every contact
and records the crimes it discloses automatically, at first contact. Each decision keeps its rationale and the
rules version that made it. Authenticate with `Authorization: Bearer <key>`; you see only your force's records.
"""


def create_app(settings: RecorderSettings | None = None) -> FastAPI:
    """The recorder HTTP app with its contacts consumer and outbox relay."""
    settings = settings or RecorderSettings()
    screener = load_screener(model_path=settings.screening_model_path)  # once: every contact uses this one
    policy = RecorderPolicy(
        catalogue=OffenceCatalogue.default(),
        limit=timedelta(hours=settings.recording_limit_hours),
        authority=settings.authority,
        force_authority=settings.force_authority,
        screener=screener if settings.screening else None,
    )
    runtime = ServiceRuntime(
        name="recorder",
        schema=SCHEMA,
        settings=settings,
        outbox=outbox,
        inbox=inbox,
        access_log=AccessLog(access_log, access_log_seals),
        subscriptions=handlers.subscriptions(policy=policy),
    )
    app = create_service_app(
        runtime, title="crimerec recorder", description=DESCRIPTION, routers=[api.router, screening_api.router]
    )
    app.state.settings = settings
    app.state.policy = policy
    _health_with_screener(app, screener)
    return app


def _health_with_screener(app: FastAPI, screener: Screener) -> None:
    """/healthz also says how narrative screening runs (rules+model or rules-only, versions, why the model is
    missing): a recorder screening on its rules alone is up and working, but a registrar must be able to see it."""

    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": "recorder", "screening": screener.status}

    # The shared runtime's /healthz knows nothing of the screener: this one takes its place, first in the routes.
    route = APIRoute("/healthz", healthz, methods=["GET"], tags=["health"], summary="Liveness, and how screening runs")
    routes = app.router.routes
    routes[:] = [route, *(r for r in routes if not (isinstance(r, APIRoute) and r.path == "/healthz"))]
