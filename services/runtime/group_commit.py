"""Group commit: the work of requests that arrive together is written in one transaction, and each request is
answered once that transaction has committed.

A request's own transaction costs a connection checkout, BEGIN, a few statements and a COMMIT (one WAL flush). When
many requests arrive at once, the commit task takes everything waiting and writes it with one statement per table
and one COMMIT; requests arriving meanwhile wait for the next. Nothing is delayed to gather a batch: a lone request
is committed at once, so batches grow only with the load. If a batch fails, each of its requests is tried again
alone, so one request's failure never fails another's.

(A small asyncio mechanism rather than a library: the maintained batching libraries (aiodataloader and the like)
batch reads within one event-loop tick, with no fall-back to single items.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Commits concurrently submitted items together through `commit`, which takes a list of items and returns one
    result per item, in order, once its transaction has committed."""

    def __init__(self, commit: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 256) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Commits one item with whatever else is waiting; its result once committed (or the error it met).

        A request abandoned while it waits (its client went away) leaves its item in the batch: it is committed all
        the same, and a retry with the same idempotency key finds it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
            self._task.add_done_callback(self._cancelled_before_start)
        return await future

    def _cancelled_before_start(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs `_run`'s clean-up: do it here.
        if task is self._task:
            self._stop()

    def _stop(self) -> None:
        """No commit task any more: nothing waiting is left without an answer."""
        waiting, self._waiting, self._task = self._waiting, [], None
        _fail_unsettled(waiting, RuntimeError("the service is stopping"))

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                try:
                    await self._commit_batch(batch)
                finally:
                    _fail_unsettled(batch, RuntimeError("the group commit stopped before answering"))
        finally:
            self._stop()  # done, or cancelled at shutdown

    async def _commit_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._commit([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _fail_unsettled(batch, exc)
                return
            log.warning("group commit failed; committing its items one by one", extra={"error": repr(exc)})
            for item, future in batch:
                try:
                    [result] = await self._commit([item])
                except Exception as alone:
                    _fail_unsettled([(item, future)], alone)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail_unsettled(batch: Sequence[tuple[object, asyncio.Future[R]]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
