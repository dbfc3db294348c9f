"""The HTTP app factory every service uses: health, readiness, problem+json, body limits, metrics, lifecycle."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.events import Role
from services.runtime.auth import require_roles
from services.runtime.middleware import BodyLimit, JsonOnly, RequestContext, SimulatedTime
from services.runtime.problems import (
    PROBLEM_RESPONSES,
    document_problems,
    install_problem_handlers,
)
from services.runtime.service_runtime import ServiceRuntime

log = logging.getLogger(__name__)


def runtime_of(request: Request) -> ServiceRuntime:
    """The running service a request reached."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    version: str = "1.0.0",
    document: Callable[[dict[str, Any]], None] | None = None,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """A service's HTTP app: its routers plus /healthz, /readyz, /metrics, problem+json and a body limit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)

    app.add_middleware(SimulatedTime, enabled=runtime.settings.engines.simulated_clock)
    app.add_middleware(RequestContext)
    app.add_middleware(JsonOnly)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes, paths=body_limits)

    _add_health_routes(app, runtime)
    for router in routers:
        app.include_router(router)
    # FastAPI's documented way to customise the OpenAPI document is to replace this method.
    app.openapi = functools.partial(  # type: ignore[method-assign]
        _openapi, app, title=title, version=version, description=description, document=document
    )
    return app


def _add_health_routes(app: FastAPI, runtime: ServiceRuntime) -> None:
    """/healthz (liveness), /readyz (database and broker) and /metrics (Prometheus, for admins and auditors)."""

    @app.get("/healthz", tags=["health"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database and the broker answer")
    async def readyz() -> JSONResponse:
        checks = await runtime.ready()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        dependencies=[require_roles(Role.ADMIN, Role.AUDITOR)],  # type: ignore[list-item]
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."},
            **{s: PROBLEM_RESPONSES[s] for s in (401, 403)},
        },
    )
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _openapi(
    app: FastAPI, *, title: str, version: str, description: str, document: Callable[[dict[str, Any]], None] | None
) -> dict[str, Any]:
    """The service's OpenAPI document, built once: problem responses and the bearer scheme on every guarded route."""
    if app.openapi_schema is None:
        schema = get_openapi(title=title, version=version, description=description, routes=app.routes)
        document_problems(schema)
        # Every route but health needs a credential (design.md, Security and privacy): say so in the document.
        schema.setdefault("components", {})["securitySchemes"] = {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (`crimerec keys issue`), sent as `Authorization: Bearer <key>`.",
            }
        }
        for path, operations in schema["paths"].items():
            if path not in ("/healthz", "/readyz"):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}]
        if document is not None:
            document(schema)
        app.openapi_schema = schema
    return app.openapi_schema
