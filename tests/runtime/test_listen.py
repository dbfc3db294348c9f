"""The one LISTEN loop: work runs on every notification, on every (re)connection, and after a failed run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.backoff import Backoff
from services.runtime.listen import run_when_notified
from tests.support import eventually

CHANNEL = f"runtime_tests_listen_{uuid.uuid4().hex[:8]}"  # pg_stat_activity is the whole server's


async def notify(db: AsyncEngine, channel: str = CHANNEL) -> None:
    """What a trigger does on commit."""
    async with db.begin() as conn:
        await conn.execute(text(f"NOTIFY {channel}"))


async def listeners(db: AsyncEngine, channel: str = CHANNEL) -> int:
    """How many connections have run LISTEN on the channel and are still there."""
    async with db.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"), {"listen": f'LISTEN "{channel}"'}
        )
    return int(found or 0)


def more_than(count: Callable[[], int], seen: int) -> Callable[[], Awaitable[bool]]:
    """A check for `eventually`: the count has gone past what was seen."""

    async def check() -> bool:
        return count() > seen

    return check


async def test_a_notification_runs_the_work_long_before_the_poll_and_a_lost_connection_is_reopened(
    db: AsyncEngine,
) -> None:
    runs = [0]

    async def work() -> float:
        runs[0] += 1
        return 3600.0  # only a notification can bring the next run

    def count() -> int:
        return runs[0]

    task = asyncio.create_task(run_when_notified(db, CHANNEL, work, what="test work"))
    try:
        await eventually(lambda: listeners(db))
        before = count()
        await notify(db)
        await eventually(more_than(count, before))

        async with db.begin() as conn:  # the listening connection dies (a database restart, a network cut)
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = :listen"),
                {"listen": f'LISTEN "{CHANNEL}"'},
            )
        reconnected = count()
        await eventually(more_than(count, reconnected))  # the new connection wakes the work once, for what it missed
        await eventually(lambda: listeners(db))
        later = count()
        await notify(db)
        await eventually(more_than(count, later))
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_a_failed_run_is_tried_again_after_a_backoff_and_the_backoff_resets_on_success(
    db: AsyncEngine,
) -> None:
    outcomes = iter([RuntimeError("database away"), RuntimeError("still away"), None])
    done = asyncio.Event()
    backoff = Backoff(first=0.01, ceiling=0.05)

    async def work() -> float:
        failure = next(outcomes, None)
        if failure is not None:
            raise failure
        done.set()
        return 3600.0

    task = asyncio.create_task(run_when_notified(db, CHANNEL, work, what="test work", backoff=backoff))
    try:
        await asyncio.wait_for(done.wait(), 30)
        assert backoff.current == backoff.first
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    async def nobody_listens() -> bool:
        return await listeners(db) == 0

    await eventually(nobody_listens)  # cancelled, it leaves no connection behind
