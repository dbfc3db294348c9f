"""The HTTP app factory every service uses: health, readiness, problem+json, body limits, metrics, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.envelope import AwareDatetime
from schemas.events import Role
from services.runtime import clock, logs, metrics
from services.runtime.access_log import AccessLog
from services.runtime.auth import KeyVerifier, require_roles
from services.runtime.backoff import Backoff
from services.runtime.database import create_engine, create_session_factory
from services.runtime.kafka import ConsumerRunner, OutboxRelay, Subscription, create_producer
from services.runtime.messaging import UnitOfWork, unit_of_work
from services.runtime.problems import (
    PROBLEM_RESPONSES,
    FieldError,
    Problem,
    document_problems,
    install_problem_handlers,
    problem_response,
)
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """Everything a running service holds: pool, producer, relay, consumers, key verifier."""

    name: str
    schema: str
    settings: ServiceSettings
    outbox: Table
    inbox: Table
    access_log: AccessLog
    subscriptions: Sequence[Subscription] = ()
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    producer: AIOKafkaProducer = field(init=False)
    keys: KeyVerifier = field(init=False)
    housekeeping: Sequence[tuple[str, Housekeeping]] = ()
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    producer_started: bool = False
    runners: dict[str, ConsumerRunner] = field(default_factory=dict)

    def unit_of_work(self) -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
        """A transaction whose staged events reach the outbox when it commits."""
        return unit_of_work(self.sessions, self.outbox, self.settings.engines.topic_prefix)

    async def start(self) -> None:
        """Connects to the database; starts the producer, relay, consumers and housekeeping in the background.

        The broker is not waited for: a service accepts requests while it is away (intake's contacts wait in the
        outbox), and /readyz says so.
        """
        self.engine = create_engine(self.settings.engines)
        self.sessions = create_session_factory(self.engine)
        self.keys = KeyVerifier(self.engine, self.settings.auth_cache_seconds)
        self.producer = create_producer(self.settings.engines, client_id=f"crimerec-{self.name}")
        self._spawn(self.access_log.run_sealer(self.engine), "access-log-sealer")
        for name, job in self.housekeeping:
            self._spawn(_every(job, self), name)
        self._spawn(self._run_messaging(), "messaging")

    async def _run_messaging(self) -> None:
        await self._start_producer()
        relay = OutboxRelay(
            engine=self.engine,
            outbox=self.outbox,
            producer=self.producer,
            schema=self.schema,
            retention=timedelta(hours=self.settings.outbox_retention_hours),
        )
        self._spawn(relay.run(), "outbox-relay")
        self._spawn(_every((3600.0, lambda _runtime: relay.purge_expired()), self), "outbox-purge")
        for subscription in self.subscriptions:
            self._spawn(self._keep_running(subscription), f"consumer-{subscription.name}")

    async def _start_producer(self) -> None:
        # The broker may still be starting (or away): keep trying in the background.
        backoff = Backoff(first=0.2, ceiling=5.0)
        while True:
            try:
                await self.producer.start()
                self.producer_started = True
                return
            except Exception as exc:
                log.warning("broker not reachable yet", extra={"error": repr(exc)})
                await self.producer.stop()
                self.producer = create_producer(self.settings.engines, client_id=f"crimerec-{self.name}")
                await backoff.sleep()

    def caught_up(self) -> bool:
        """True when every consumer has handled every event it has been given (no lag at its last poll)."""
        return bool(self.runners) and all(r.caught_up for r in self.runners.values())

    def _runner(self, subscription: Subscription) -> ConsumerRunner:
        return ConsumerRunner(
            subscription=subscription,
            settings=self.settings.engines,
            sessions=self.sessions,
            outbox=self.outbox,
            inbox=self.inbox,
            producer=self.producer,
            batch_size=self.settings.consumer_batch_size,
            max_attempts=self.settings.consumer_max_attempts,
        )

    async def _keep_running(self, subscription: Subscription) -> None:
        # A consumer that falls over (broker gone, group coordinator lost) is rebuilt, never abandoned.
        while True:
            runner = self._runner(subscription)
            self.runners[subscription.name] = runner
            try:
                await runner.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("consumer stopped; restarting", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    def _spawn(self, coro: Any, name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        """Stops the background work, then the producer and the pool."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.producer_started:
            await self.producer.stop()
        await self.engine.dispose()

    async def ready(self) -> dict[str, str]:
        """Checks the database and the broker; each check's result by name."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            if not self.producer_started:
                raise ConnectionError("not connected yet")
            async with asyncio.timeout(2):
                await self.producer.client.fetch_all_metadata()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        return checks


Housekeeping = tuple[float, Callable[["ServiceRuntime"], Awaitable[object]]]
"""A background job: how often (seconds) and what (given the runtime), e.g. expiring idempotency keys."""


async def _every(job: Housekeeping, runtime: ServiceRuntime) -> None:
    interval, work = job
    while True:
        await asyncio.sleep(interval)
        try:
            await work(runtime)
        except Exception as exc:  # housekeeping must never take the service down; it tries again next time
            log.warning("housekeeping failed", extra={"error": repr(exc)})


def runtime_of(request: Request) -> ServiceRuntime:
    """The running service a request reached."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


class RequestContext:
    """Gives each request an id (echoed as x-request-id), puts it and the correlation id in the logs, and times it.

    Pure ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a stream per request and buffers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = (headers.get(b"x-request-id", b"").decode("latin-1") or str(uuid.uuid4()))[:100]
        logs.request_id.set(rid)
        logs.correlation_id.set((headers.get(b"x-correlation-id", b"").decode("latin-1") or rid)[:100])
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            metrics.REQUEST_SECONDS.labels(scope["method"], getattr(route, "path", "unmatched"), str(status)).observe(
                time.perf_counter() - started
            )


class SimulatedTime:
    """Puts a request's `Crimerec-Simulated-Time` in effect on a service running a simulation; any other service
    refuses the header (400), so a stray or forged one can never move a real record's times."""

    HEADER = clock.SIMULATED_TIME_HEADER.lower().encode("latin-1")

    def __init__(self, app: ASGIApp, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = dict(scope["headers"]).get(self.HEADER) if scope["type"] == "http" else None
        if raw is None:
            await self.app(scope, receive, send)
            return
        if not self.enabled:
            await self._refuse(scope, receive, send, "this service runs on the wall clock, not a simulation")
            return
        try:
            at = _TIMESTAMP.validate_python(raw.decode("latin-1"))
        except (ValidationError, UnicodeDecodeError):
            await self._refuse(scope, receive, send, "must be an ISO 8601 timestamp with a timezone")
            return
        with clock.simulated(at):
            await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, why: str) -> None:
        field = f"header.{clock.SIMULATED_TIME_HEADER.lower()}"
        response = problem_response(
            Problem(
                title="Invalid simulated time",
                status=400,
                detail=f"{clock.SIMULATED_TIME_HEADER}: {why}.",
                instance=scope.get("path"),
                errors=[FieldError(field=field, message=why)],
            )
        )
        await response(scope, receive, send)


_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


class BodyLimit:
    """Refuses request bodies over the limit with 413, also chunked ones that announce no length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        # Read the whole body first (bounded), so nothing downstream ever sees a partial one.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Problem(
                title="Request body too large",
                status=413,
                detail=f"The body may be at most {self.max_bytes} bytes.",
                instance=scope.get("path"),
            )
        )
        await response(scope, receive, send)


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    version: str = "1.0.0",
    document: Callable[[dict[str, Any]], None] | None = None,
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
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)

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

    for router in routers:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
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

    app.openapi = openapi  # type: ignore[method-assign]
    return app
