"""The process's one watch on the alert stream: LISTEN on a dedicated connection, a poll as fallback, and the settled
position every supervisor's stream and the webhook deliverer may read up to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.auditor.alerts import repository
from services.runtime.backoff import Backoff
from services.runtime.listen import run_when_notified
from services.runtime.service_runtime import ServiceRuntime

log = logging.getLogger(__name__)

CHANNEL = "auditor_alerts"  # migration 0003: the alert_stream trigger notifies here on every insert
SETTLE_CHECK_SECONDS = 0.02  # how soon to look again while a transaction that may hold a lower position is open


@dataclass(frozen=True)
class _Sighting:
    top: int
    writing: frozenset[str]
    seen_at: float


class AlertFeed:
    """Watches the alert stream for the whole process and wakes every stream and the deliverer when it moves.

    Readers never go past `horizon`: the highest position below which no alert can still appear. Positions are
    given out at insert and become visible at commit, so alert 11 can be visible while alert 10's transaction is
    still open; a reader that went past 11 would miss 10 for good. A top seen at one moment is settled once every
    transaction that was writing to the stream at that moment has ended, or after `settle_seconds`, so that one
    transaction left open cannot hold back every alert.
    """

    def __init__(self, *, poll_seconds: float, settle_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.horizon: int | None = None
        self._ready = asyncio.Event()
        self._sightings: deque[_Sighting] = deque()
        self._subscribers: set[asyncio.Event] = set()

    @property
    def subscribers(self) -> int:
        """How many streams and deliverers are waiting on the feed."""
        return len(self._subscribers)

    async def wait_ready(self, within: float) -> int | None:
        """The settled position, waiting up to `within` seconds for the first one; None if there is none yet."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._ready.wait()
        return self.horizon

    @contextlib.contextmanager
    def subscribe(self, news: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event (a new one, or the one given) set whenever the settled position moves on; clear it before
        reading, wait on it after."""
        news = news or asyncio.Event()
        self._subscribers.add(news)
        try:
            yield news
        finally:
            self._subscribers.discard(news)

    async def __call__(self, runtime: ServiceRuntime) -> None:
        """Runs the watch until cancelled (a housekeeping job of the auditor's runtime): LISTEN on a connection of
        its own, a poll as fallback; while the database is away the streams wait, and nothing is lost."""
        await run_when_notified(
            runtime.engine, CHANNEL, lambda: self._refresh_then_wait(runtime.engine), what="alert feed",
            backoff=Backoff(first=0.2, ceiling=5.0),
        )  # fmt: skip

    async def _refresh_then_wait(self, engine: AsyncEngine) -> float:
        await self.refresh(engine)
        # Soon again while a transaction that may hold a lower position is still open.
        return SETTLE_CHECK_SECONDS if self._sightings else self.poll_seconds

    async def refresh(self, engine: AsyncEngine) -> None:
        """Looks at the stream once and moves the settled position as far as it safely can."""
        async with engine.connect() as conn:
            top, writing = await repository.stream_snapshot(conn)
        now = time.monotonic()
        known = self._sightings[-1].top if self._sightings else (self.horizon if self.horizon is not None else -1)
        if top > known:
            self._sightings.append(_Sighting(top=top, writing=writing, seen_at=now))
        settled = None
        while self._sightings:
            sighting = self._sightings[0]
            still_writing = sighting.writing & writing
            if still_writing:
                if now - sighting.seen_at < self.settle_seconds:
                    break
                log.warning(
                    "alert stream moved on past transactions still open",
                    extra={"position": sighting.top, "transactions": sorted(still_writing)[:20]},
                )
            settled = sighting.top
            self._sightings.popleft()
        if settled is not None and (self.horizon is None or settled > self.horizon):
            self.horizon = settled
            self._ready.set()
            for news in self._subscribers:
                news.set()
