"""Group commit: requests that arrive together share a commit, and one request's failure is its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.runtime.group_commit import GroupCommit


class Store:
    """A commit that records its batches, refuses any batch holding "bad", and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, items: Sequence[str]) -> list[str]:
        await self.gate.wait()
        if "bad" in items:
            raise ValueError("bad item")
        self.batches.append(list(items))
        return [item.upper() for item in items]


async def test_requests_waiting_while_a_commit_runs_share_the_next_commit() -> None:
    store = Store()
    committer = GroupCommit(store.commit)
    store.gate.clear()
    first = asyncio.create_task(committer.submit("a"))
    await asyncio.sleep(0)  # "a" is being committed, held at the gate
    rest = [asyncio.create_task(committer.submit(item)) for item in ("b", "c", "d")]
    await asyncio.sleep(0)
    store.gate.set()

    assert await first == "A"
    assert [await task for task in rest] == ["B", "C", "D"]
    assert store.batches == [["a"], ["b", "c", "d"]]


async def test_a_failing_item_fails_alone_and_the_others_are_committed() -> None:
    store = Store()
    committer = GroupCommit(store.commit)
    results = await asyncio.gather(*(committer.submit(item) for item in ("x", "bad", "y")), return_exceptions=True)

    assert results[0] == "X" and results[2] == "Y"
    assert isinstance(results[1], ValueError)
    assert ["x"] in store.batches and ["y"] in store.batches
    assert all("bad" not in batch for batch in store.batches)


async def test_batches_are_at_most_max_batch() -> None:
    store = Store()
    committer = GroupCommit(store.commit, max_batch=2)
    store.gate.clear()
    tasks = [asyncio.create_task(committer.submit(str(i))) for i in range(5)]
    await asyncio.sleep(0)
    store.gate.set()

    assert [await task for task in tasks] == ["0", "1", "2", "3", "4"]
    assert [len(batch) for batch in store.batches] == [2, 2, 1]


@pytest.mark.parametrize("turns", [1, 2], ids=["before-the-commit-starts", "during-a-commit"])
async def test_waiting_requests_get_an_error_when_the_service_stops(turns: int) -> None:
    store = Store()
    committer = GroupCommit(store.commit)
    store.gate.clear()
    tasks = [asyncio.create_task(committer.submit(item)) for item in ("a", "b")]
    for _ in range(turns):
        await asyncio.sleep(0)
    assert committer._task is not None
    committer._task.cancel()

    for task in tasks:
        with pytest.raises(RuntimeError):
            await task
