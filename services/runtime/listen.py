"""Work done when PostgreSQL says something changed: one LISTEN loop that reconnects with backoff, and the loop that
runs a piece of work on every notification, with a poll as fallback.

The outbox relay (NOTIFY from the outbox trigger) and the auditor's alert feed (NOTIFY from the alert stream) both
run on it: a notification only says "look now"; the work itself always reads the tables, so a lost notification
costs at most one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.backoff import Backoff
from services.runtime.database import asyncpg_dsn

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[float]]
"""One run of the work; returns how many seconds to wait for a notification before the next run (0: at once)."""


async def listen(
    engine: AsyncEngine,
    channel: str,
    wake: asyncio.Event,
    *,
    what: str = "listener",
    on_payload: Callable[[str], Any] | None = None,
) -> None:
    """Keeps a LISTEN on `channel` over a connection of its own until cancelled, setting `wake` on every
    notification and on every (re)connection (and handing each notification's payload to `on_payload`, if given);
    a lost connection is opened again after a backoff."""

    def notified(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        wake.set()
        if on_payload is not None:
            on_payload(payload)

    dsn = asyncpg_dsn(engine.url)
    backoff = Backoff()
    while True:
        try:
            conn = await asyncpg.connect(dsn)
            closed = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, done=closed: done.set())
                await conn.add_listener(channel, notified)
                wake.set()  # catch anything committed while we were not listening
                backoff.reset()
                await closed.wait()
            finally:
                await conn.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the poll carries on meanwhile
            log.warning("%s lost its connection", what, extra={"channel": channel, "error": repr(exc)})
            await backoff.sleep()


async def run_when_notified(
    engine: AsyncEngine,
    channel: str,
    work: Work,
    *,
    what: str,
    backoff: Backoff | None = None,
) -> None:
    """Runs `work` whenever `channel` is notified or the wait it asked for runs out, until cancelled. A run that
    fails (database or broker away) is logged and tried again after a backoff; nothing is lost, the work reads the
    tables again."""
    wake = asyncio.Event()
    listener = asyncio.create_task(listen(engine, channel, wake, what=f"{what} listener"), name=f"{what}-listener")
    backoff = backoff or Backoff()
    try:
        while True:
            # Cleared before the run, so a notification that arrives during it is not lost.
            wake.clear()
            try:
                wait = await work()
                backoff.reset()
            except Exception as exc:
                log.warning("%s failed; trying again", what, extra={"error": repr(exc)})
                await backoff.sleep()
                continue
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await wake.wait()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
