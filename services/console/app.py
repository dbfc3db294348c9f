"""The console as a running service: `create_app(settings)`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.catalogue import OffenceCatalogue
from services.console import audit_pages, flag_pages, pages, web
from services.console.settings import ConsoleSettings
from services.console.signin import SignIns
from services.console.upstream import ServiceCalls
from services.runtime.database import create_engine, create_session_factory
from services.runtime.middleware import BodyLimit, RequestContext
from services.runtime.problems import Problem, ProblemError, field_name, problem_response

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def _wants_html(request: Request) -> bool:
    # Pages and htmx actions get HTML; the stream, CSV downloads and API clients get problem+json.
    if request.headers.get("hx-request") == "true":
        return True
    return "text/html" in request.headers.get("accept", "") and not request.url.path.endswith((".csv", "/stream"))


def _error(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    problem.instance = problem.instance or request.url.path
    if problem.status == 401 and _wants_html(request) and request.headers.get("hx-request") != "true":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/console/sign-in?next={quote(target, safe='/')}", status_code=303)
    if _wants_html(request):
        template = "_error_fragment.html" if request.headers.get("hx-request") == "true" else "error.html"
        return web.render(request, template, status_code=problem.status, problem=problem)
    return problem_response(problem, headers=headers)


def create_app(
    settings: ConsoleSettings | None = None, transports: dict[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """The console's web app: pages under /console, its own sessions and history in schema `console`.

    `transports` lets tests reach in-process services instead of their ports."""
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.engines)
        app.state.engine = engine
        app.state.sessions = create_session_factory(engine)
        app.state.signins = SignIns(engine=engine, sessions=app.state.sessions, hours=settings.session_hours)
        app.state.calls = ServiceCalls(settings, transports)
        try:
            yield
        finally:
            await app.state.calls.close()
            await engine.dispose()

    app = FastAPI(title="crimerec console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.catalogue = OffenceCatalogue.default()
    app.add_middleware(RequestContext)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    for module in (pages, flag_pages, audit_pages):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="static")

    _add_error_pages(app)
    _add_health_routes(app)
    return app


def _add_error_pages(app: FastAPI) -> None:
    """Errors as HTML pages for a person, problem+json for the stream, downloads and API clients."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return _error(request, exc.problem, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        details = "; ".join(f"{field_name(e['loc'])}: {e['msg']}" for e in exc.errors())[:2000]
        return _error(request, Problem(title="Request is not valid", status=422, detail=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        problem = Problem(title=titles.get(exc.status_code, "HTTP error"), status=exc.status_code, detail=exc.detail)
        return _error(request, problem)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        problem = Problem(title="Internal error", status=500, detail="The page could not be shown; try again.")
        return _error(request, problem)


def _add_health_routes(app: FastAPI) -> None:
    """/ redirects to the console; /healthz (alive) and /readyz (its database answers), as the services have."""

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/console/", status_code=303)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            async with app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks = {"database": "ok"}
        except Exception as exc:
            checks = {"database": f"unavailable: {type(exc).__name__}"}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
