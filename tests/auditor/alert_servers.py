"""Real servers for the alert tests: an auditor of its own under uvicorn, a webhook receiver, an SSE reader, and
flags raised through the auditor's own service code.

The auditor gets a database and a topic prefix of its own, so no other auditor in the test session (the `services`
fixture's) streams or delivers its alerts, and its consumer group rebalances no one else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.types import Receive, Scope, Send

from crimerec import stack
from crimerec.embedded import free_port
from schemas.events import FlagStatus, Role
from services.auditor import ledger
from services.auditor.models import outbox
from services.auditor.rules.flags import FlagDraft, Rule, Severity
from services.runtime.messaging import unit_of_work
from services.runtime.refusals import Refused
from services.runtime.settings import EngineSettings
from tests.conftest import FORCE, OTHER_FORCE, Keys, Server, _run_sync, create_database, drop_database, engine_settings


@contextlib.contextmanager
def own_engines(pg_server: Server, kafka: tuple[str, bool]) -> Iterator[EngineSettings]:
    """A fresh, migrated database and a fresh topic prefix with its topics."""
    url = create_database(pg_server, prefix="crimerec_alerts")
    settings = engine_settings(url, kafka, topic_prefix=f"a{uuid.uuid4().hex[:6]}.")
    stack.migrate_all(url)
    _run_sync(stack.prepare_broker(settings, republish=False))
    try:
        yield settings
    finally:
        drop_database(pg_server, url)


async def issue_keys(engines: EngineSettings) -> Keys:
    """One key per role for GMP and MPS, in the given database."""
    roles = list(Role)
    mine = await stack.issue_keys(engines, force=FORCE, roles=roles, label="alerts test")
    other = await stack.issue_keys(engines, force=OTHER_FORCE, roles=roles, label="alerts test")
    return Keys({Role(r): k for r, k in mine.items()}, {Role(r): k for r, k in other.items()})


@dataclass
class Served:
    """An ASGI app served by uvicorn on a loopback port, in a thread with its own event loop."""

    app: Any
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextlib.contextmanager
def serve(app: Any, name: str) -> Iterator[Served]:
    """Serves an app over real TCP until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{name}-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"{name} did not come up under uvicorn")
        time.sleep(0.05)
    try:
        yield Served(app=app, url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# ------------------------------------------------------------------------------------------------ flags


class FlagRaiser:
    """Raises and changes flags with the auditor's own service code, as its consumer and API do."""

    def __init__(self, engine: AsyncEngine, engines: EngineSettings) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.topic_prefix = engines.topic_prefix

    @contextlib.asynccontextmanager
    async def open_transaction(self) -> AsyncIterator[Any]:
        """A unit of work, committed when the block ends."""
        async with unit_of_work(self.sessions, outbox, self.topic_prefix) as uow:
            yield uow

    async def raise_flag(
        self, rule: Rule, severity: Severity, *, force: str = FORCE, uow: Any = None
    ) -> dict[str, Any]:
        """A new flag of this rule and severity for a new contact of the force; its row."""
        draft = FlagDraft(
            rule=rule, severity=severity, subject=uuid.uuid4().hex, explanation=f"{rule.value} raised by a test.",
            evidence={"test": True},
        )  # fmt: skip
        if uow is not None:
            raised = await ledger.raise_flags(uow, [draft], force=force, contact_id=uuid.uuid4(), at=datetime.now(UTC))
        else:
            async with self.open_transaction() as own:
                raised = await ledger.raise_flags(
                    own, [draft], force=force, contact_id=uuid.uuid4(), at=datetime.now(UTC)
                )
        return raised[0]

    async def acknowledge(self, flag_id: int, *, force: str = FORCE) -> None:
        """A supervisor acknowledges the flag (a flag.updated alert)."""
        async with self.open_transaction() as uow:
            result = await ledger.change_flag(
                uow, flag_id=flag_id, force=force, by="test-supervisor", status=FlagStatus.ACKNOWLEDGED,
                resolution=None, note="on it", now=datetime.now(UTC),
            )  # fmt: skip
        assert not isinstance(result, Refused), result


# ------------------------------------------------------------------------------------------------ SSE


@dataclass
class Event:
    """One server-sent event."""

    id: str | None
    event: str | None
    data: str | None

    def json(self) -> dict[str, Any]:
        """The event's data as JSON."""
        assert self.data is not None
        value: dict[str, Any] = json.loads(self.data)
        return value


class SseReader:
    """Reads a text/event-stream as a browser's EventSource does: events, comments and the last event id."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.last_event_id: str | None = None
        self.comments: list[str] = []

    async def _message(self) -> Event:
        fields: dict[str, str] = {}
        data: list[str] = []
        commented = False
        while True:
            line = await anext(self.lines)
            if line == "":
                if fields or data or commented:
                    if "id" in fields:
                        self.last_event_id = fields["id"]
                    return Event(fields.get("id"), fields.get("event"), "\n".join(data) if data else None)
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                commented = True
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value

    async def next_event(self, within: float = 10.0) -> Event:
        """The next event that carries data (an id alone only moves the last event id)."""
        async with asyncio.timeout(within):
            while True:
                message = await self._message()
                if message.data is not None:
                    return message

    async def next_comment(self, within: float = 10.0) -> str:
        """The next comment line (a keep-alive ping)."""
        seen = len(self.comments)
        async with asyncio.timeout(within):
            while len(self.comments) == seen:
                await self._message()
        return self.comments[seen]


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any] | None = None
) -> AsyncIterator[SseReader]:
    """Opens the alert stream over TCP; the connection is closed when the block ends."""
    async with client.stream("GET", "/v1/alerts/stream", headers=headers, params=params) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"]  # the runtime's request middleware still wraps the stream
        reader = SseReader(response)
        await reader._message()  # the opening id-only message: the stream is attached from here
        yield reader


# ------------------------------------------------------------------------------------------------ webhooks


@dataclass
class Delivery:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> dict[str, Any]:
        """The delivered alert."""
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class WebhookReceiver:
    """A supervisor's system at the other end: records every POST, per path, and fails when told to."""

    received: list[Delivery] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    stalls: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, path: str, times: int) -> None:
        """Answers the next `times` POSTs to `path` with 503."""
        with self.lock:
            self.failures_left[path] = times

    def redirect(self, path: str, location: str) -> None:
        """Answers every POST to `path` with 307 to `location`."""
        with self.lock:
            self.redirects[path] = location

    def stall(self, path: str, seconds: float) -> None:
        """Holds the next POST to `path` this long before answering."""
        with self.lock:
            self.stalls[path] = seconds

    def at(self, path: str) -> list[Delivery]:
        """What reached one path, in order."""
        with self.lock:
            return [d for d in self.received if d.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path = scope["path"]
        with self.lock:
            failing = self.failures_left.get(path, 0) > 0
            if failing:
                self.failures_left[path] -= 1
            location = self.redirects.get(path)
            status = 503 if failing else 307 if location else 204
            stall = self.stalls.pop(path, 0.0)
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.received.append(Delivery(path=path, headers=headers, body=body, answered=status))
        if stall:
            await asyncio.sleep(stall)
        answer = [(b"location", location.encode())] if location else []
        await send({"type": "http.response.start", "status": status, "headers": answer})
        await send({"type": "http.response.body", "body": b""})


def auditor_client(served: Served) -> httpx.AsyncClient:
    """An HTTP client to a served auditor; no read timeout, since streams are quiet between alerts."""
    return httpx.AsyncClient(base_url=served.url, timeout=httpx.Timeout(10.0, read=None))


def running_app(served: Served) -> FastAPI:
    """The served auditor app."""
    app: FastAPI = served.app
    return app
