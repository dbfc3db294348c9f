"""Waiting out transient faults: exponential backoff, and the one reconnecting LISTEN loop on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with a ceiling, for transient faults."""

    def __init__(self, first: float = 0.2, ceiling: float = 10.0) -> None:
        self.first, self.ceiling, self.current = first, ceiling, first

    async def sleep(self) -> None:
        """Waits the current delay, then doubles it up to the ceiling."""
        await asyncio.sleep(self.current)
        self.current = min(self.current * 2, self.ceiling)

    def reset(self) -> None:
        """Back to the first delay after a success."""
        self.current = self.first


async def listen_forever(dsn: str, channel: str, on_notify: Callable[[], None], *, name: str) -> None:
    """Keeps a LISTEN on `channel` open for good, reconnecting with backoff. `on_notify` runs on every notification
    and once after each (re)connect, to catch anything committed while nobody listened. Runs until cancelled."""
    backoff = Backoff()
    while True:
        try:
            conn = await asyncpg.connect(dsn)
            closed = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, done=closed: done.set())
                await conn.add_listener(channel, lambda *_: on_notify())
                on_notify()
                backoff.reset()
                await closed.wait()
            finally:
                await conn.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s lost its connection", name, extra={"error": repr(exc)})
            await backoff.sleep()
