"""The ASGI middlewares every service runs behind: request ids and timing, simulated time, and the body limit."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.envelope import AwareDatetime
from services.runtime import clock, logs, metrics
from services.runtime.problems import (
    FieldError,
    Problem,
    problem_response,
)

log = logging.getLogger(__name__)


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
    """Refuses request bodies over the limit with 413, also chunked ones that announce no length. A route may have
    a limit of its own (`paths`: exact path → bytes), e.g. a batch route."""

    def __init__(self, app: ASGIApp, max_bytes: int, paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
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
            if size > limit:
                await self._too_large(scope, receive, send, limit)
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

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            Problem(
                title="Request body too large",
                status=413,
                detail=f"The body may be at most {limit} bytes.",
                instance=scope.get("path"),
            )
        )
        await response(scope, receive, send)


class JsonOnly:
    """Refuses a request body that is not JSON with 415, naming the media type the API takes (a charset or other
    parameter is fine), before anything reads it: every route of the services takes JSON bodies only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
        media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if has_body and media != b"application/json" and not media.endswith(b"+json"):
            response = problem_response(
                Problem(
                    title="Unsupported media type",
                    status=415,
                    detail="The body must be JSON, sent with Content-Type: application/json.",
                    instance=scope.get("path"),
                )
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
