"""Waiting for the recorder's decision on a contact while its POST is still open (`Prefer: wait=N`, RFC 7240).

Intake learns decisions the way it always has: its consumer of the records topic writes each `contact.decided` onto
the contact (`service.note_decision`), and in that transaction notifies `DECISIONS_CHANNEL` with the contact's id, so
the notice is sent only once the decision is readable. Every intake process keeps one LISTEN on that channel and
wakes the requests waiting for that contact, whichever process's consumer took the event. Nothing here knows the
recorder: the topic is the only way in, as for every other service.

A notice lost while the LISTEN connection is away costs nothing but the wait: a request reads the contact when it
starts waiting and once more when its wait runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any
from uuid import UUID

from services.intake import repository
from services.runtime.listen import listen
from services.runtime.service_runtime import ServiceRuntime

DECISIONS_CHANNEL = repository.DECISIONS_CHANNEL


class DecisionWaits:
    """The process's one watch on decisions, and the requests waiting for them."""

    def __init__(self) -> None:
        self._waiting: dict[UUID, set[asyncio.Future[None]]] = defaultdict(set)

    @property
    def waiting(self) -> int:
        """How many requests are waiting for a decision."""
        return sum(len(futures) for futures in self._waiting.values())

    async def __call__(self, runtime: ServiceRuntime) -> None:
        """Listens until cancelled (a housekeeping job of intake's runtime)."""
        wake = asyncio.Event()  # unused: every notice names its contact
        await listen(runtime.engine, DECISIONS_CHANNEL, wake, what="decision listener", on_payload=self._seen)

    def _seen(self, payload: str) -> None:
        try:
            contact_id = UUID(payload)
        except ValueError:
            return
        for future in self._waiting.pop(contact_id, ()):
            if not future.done():
                future.set_result(None)

    async def decided(self, runtime: ServiceRuntime, contact_id: UUID, *, within: float) -> Any | None:
        """The contact's row once it is decided, waiting up to `within` seconds; None if it is not decided by then."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[contact_id].add(future)  # before the first read, so a decision between the two is not missed
        try:
            row = await _read(runtime, contact_id)
            if row is not None and row.outcome is not None:
                return row
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await future
            row = await _read(runtime, contact_id)
            return row if row is not None and row.outcome is not None else None
        finally:
            futures = self._waiting.get(contact_id)
            if futures is not None:
                futures.discard(future)
                if not futures:
                    del self._waiting[contact_id]


async def _read(runtime: ServiceRuntime, contact_id: UUID) -> Any | None:
    async with runtime.sessions() as session, session.begin():
        return await repository.get_decision(session, contact_id)
