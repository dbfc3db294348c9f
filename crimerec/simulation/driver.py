"""Plays a plan against the running system through its public APIs, with real credentials, in simulated time.

Every request carries its simulated time (`Crimerec-Simulated-Time`), so the services record what happened when
it happened in the simulation; simulated time never sleeps (unless a `speed` is asked for). Live, the system reacts
within milliseconds while deadlines are hours apart; compressed, a millisecond can be a simulated hour. So every
`BARRIER` of simulated time the driver waits, as live time would, until the recorder has decided every contact and
the auditor has read every event so far. Between two barriers every step is posted at once, many at a time (each
contact's own steps in their order, its contact first): the auditor's event-time clock cannot pass the last step
posted, which is earlier than the next barrier, and every record made after a barrier meets a deadline at least
four simulated hours later (by the plan: people decide within 20 hours of a 24-hour limit), so no earlier than the
next barrier — the clock never passes a deadline before the record that meets it has been read.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import httpx

from crimerec.simulation.plan import Plan, Step
from crimerec.simulation.reviews import Reviewer
from services.runtime.clock import SIMULATED_TIME_HEADER

BARRIER = timedelta(hours=4)
"""No longer than the plan's shortest margin between a record and the deadline it meets (see above)."""
QUIET = 0.3  # real seconds for relays to publish and consumers to fetch what the last window caused
ROLES = ("call_handler", "officer", "supervisor", "ddm", "fcr", "auditor")


class SimulationError(Exception):
    """The system refused what a simulated person did, or is not running a simulation."""


@dataclass
class Clients:
    """HTTP clients for the three services."""

    intake: httpx.AsyncClient
    recorder: httpx.AsyncClient
    auditor: httpx.AsyncClient


@dataclass
class Outcome:
    """What a run did: steps performed, refusals, real seconds, and the contacts' ids by source reference."""

    steps: int = 0
    contacts: int = 0
    seconds: float = 0.0
    waiting: float = 0.0  # real seconds spent at barriers, waiting for the recorder and the auditor
    settling: float = 0.0  # of which waiting for the recorder's decisions
    barriers: int = 0
    last_step_at: datetime | None = None
    contact_ids: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


class Driver:
    """Posts a plan's steps in simulated-time order, as fast as allowed (`speed` None) or `speed` times real time."""

    def __init__(
        self,
        plan: Plan,
        clients: Clients,
        keys: dict[str, str],
        *,
        speed: float | None = None,
        concurrency: int = 16,
        advance: Callable[[int], None] = lambda n: None,
    ) -> None:
        missing = [r for r in ROLES if r not in keys]
        if missing:
            raise SimulationError(f"no API key for {', '.join(missing)} of {plan.force}")
        self.plan, self.clients, self.keys, self.speed = plan, clients, keys, speed
        self.limit = asyncio.Semaphore(concurrency)
        self.advance = advance
        self.outcome = Outcome()
        self.ids: dict[int, str] = {}
        self.crimes: dict[int, list[str]] = {}
        self.requests: dict[int, str] = {}
        self.undecided: deque[int] = deque()
        self.reviewer = Reviewer(self, seed=plan.seed)  # supervisors on the screening review queue (reviews.py)
        self.known: dict[int, dict[str, Any]] = {}  # decisions no person has yet to make (pending ones change)

    def headers(self, role: str, at: datetime, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", SIMULATED_TIME_HEADER: at.isoformat(), **extra}

    async def check(self) -> None:
        """Fails early, and clearly, when the services do not run on simulated time."""
        probe = await self.clients.intake.get("/healthz", headers={SIMULATED_TIME_HEADER: self.plan.start.isoformat()})
        if probe.status_code != 200:
            raise SimulationError(
                "intake refuses simulated time: start the system with `crimerec up --simulation` "
                f"({probe.status_code}: {probe.text[:200]})"
            )

    async def run(self) -> Outcome:
        """Plays every step; returns once the recorder has decided every contact posted."""
        await self.check()
        began = time.monotonic()
        for number, steps in groupby(self.plan.steps, key=lambda s: (s.at - self.plan.start) // BARRIER):
            if number and self.outcome.last_step_at is not None:
                await self.barrier()
            # Hour by hour inside a barrier's span: the supervisors read the screening queue every simulated hour.
            for window, in_window in groupby(steps, key=lambda s: _floor(s.at)):
                await self.pace(window, began)
                await self.reviewer.act(window)
                await self.play_together(list(in_window))
        await self.settle()
        await self.reviewer.finish(self.outcome.last_step_at or self.plan.start)
        self.outcome.seconds = time.monotonic() - began
        self.outcome.contact_ids = {self.plan.contacts[i].reference: cid for i, cid in self.ids.items()}
        return self.outcome

    async def barrier(self) -> None:
        """Waits until the recorder has decided every contact posted and the auditor has read every event."""
        began = time.monotonic()
        await self.settle()
        self.outcome.settling += time.monotonic() - began
        await asyncio.sleep(QUIET)
        auditor = {"Authorization": f"Bearer {self.keys['auditor']}"}
        assert self.outcome.last_step_at is not None
        await wait_for_auditor(self.clients.auditor, auditor, until=self.outcome.last_step_at, patience=300)
        self.outcome.waiting += time.monotonic() - began
        self.outcome.barriers += 1

    async def play_together(self, batch: list[Step]) -> None:
        """Posts a run of steps: the contacts first (one call to make a batch call), then each contact's people's
        actions in their order, the contacts' side by side."""
        await self.post_contacts([s for s in batch if s.kind == "contact"])
        actions = sorted((s for s in batch if s.kind != "contact"), key=lambda s: (s.contact, s.at))
        await asyncio.gather(*(self.play(list(g)) for _, g in groupby(actions, key=lambda s: s.contact)))
        self.outcome.steps += len(batch)
        self.outcome.last_step_at = max(s.at for s in batch)
        self.advance(len(batch))

    async def pace(self, window: datetime, began: float) -> None:
        if self.speed is None:
            return
        due = began + (window - self.plan.start).total_seconds() / self.speed
        await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def settle(self) -> None:
        """Waits until the recorder has decided every contact posted so far (asking about many at a time)."""

        async def decided(index: int) -> None:
            async with self.limit:
                await self.decision(index)

        undecided = [i for i in self.undecided if i not in self.known]
        self.undecided.clear()
        await asyncio.gather(*(decided(i) for i in undecided))

    async def play(self, steps: list[Step]) -> None:
        for step in steps:
            async with self.limit:
                await self.perform(step)

    async def post_contacts(self, steps: list[Step]) -> None:
        """Posts contacts to intake, many at a time (the place for a batch call)."""

        async def post(step: Step) -> None:
            async with self.limit:
                await self.perform(step)

        await asyncio.gather(*(post(step) for step in steps))

    async def perform(self, step: Step) -> None:
        contact = self.plan.contacts[step.contact]
        if step.kind == "contact":
            response = await _again(
                lambda: self.clients.intake.post(
                    "/v1/contacts", json=contact.body,
                    headers=self.headers("call_handler", step.at, **{"Idempotency-Key": contact.reference}),
                )
            )  # fmt: skip
            if response.status_code in (200, 201):
                self.ids[step.contact] = response.json()["contact_id"]
                self.undecided.append(step.contact)
                self.outcome.contacts += 1
            else:
                self.refuse(step, response)
            return
        if step.contact not in self.ids:
            return  # its contact was refused: already reported
        decision = await self.decision(step.contact)
        if step.kind == "decide":
            self.known.pop(step.contact, None)  # a person's decision changes it
        for path in self.paths(step, decision):
            response = await self.clients.recorder.post(path, json=step.body, headers=self.headers(step.role, step.at))
            if response.status_code not in (200, 201):
                self.refuse(step, response)
            elif step.kind == "cancel":
                self.requests[step.contact] = response.json()["request_id"]

    def paths(self, step: Step, decision: dict[str, Any]) -> list[str]:
        """Where a person's step is posted: a notification goes to every crime removed (each victim is told), the
        other steps to the contact's first crime."""
        contact_id = self.ids[step.contact]
        crimes = decision.get("crime_references") or []
        match step.kind:
            case "decide":
                return [f"/v1/contacts/{contact_id}/decision"]
            case "approve":
                request_id = self.requests.get(step.contact)
                return [f"/v1/cancellation-requests/{request_id}/approval"] if request_id else []
        if not crimes:
            self.outcome.refused.append(f"{step.kind} {self.plan.contacts[step.contact].reference}: no crime recorded")
            return []
        if step.kind == "notify":
            return [f"/v1/crimes/{crime}/victim-notification" for crime in crimes]
        path = {"reclassify": "reclassification", "cancel": "cancellation-requests"}[step.kind]
        return [f"/v1/crimes/{crimes[0]}/{path}"]

    async def decision(self, index: int) -> dict[str, Any]:
        """The recorder's decision on a contact, waiting for it to be made (asked once, unless still pending)."""
        if index in self.known:
            return self.known[index]
        deadline = time.monotonic() + 60
        while True:
            response = await _again(
                lambda: self.clients.recorder.get(
                    f"/v1/contacts/{self.ids[index]}/decision",
                    headers={"Authorization": f"Bearer {self.keys['officer']}"},
                )
            )
            if response.status_code == 200:
                decision: dict[str, Any] = response.json()
                if decision.get("outcome") != "pending":
                    self.known[index] = decision
                return decision
            if response.status_code >= 500 and time.monotonic() <= deadline:
                await asyncio.sleep(0.5)  # a read: ask again (seen when a shared database ran out of connections)
                continue
            if response.status_code != 404 or time.monotonic() > deadline:
                raise SimulationError(
                    f"no decision for contact {self.ids[index]}: {response.status_code} {response.text[:200]}"
                )
            await asyncio.sleep(0.05)

    def refuse(self, step: Step, response: httpx.Response) -> None:
        reference = self.plan.contacts[step.contact].reference
        self.outcome.refused.append(
            f"{step.kind} {reference} at {step.at.isoformat()}: {response.status_code} {response.text[:300]}"
        )


async def wait_for_auditor(
    client: httpx.AsyncClient, headers: dict[str, str], *, until: datetime, patience: float, poll: float = 0.05
) -> datetime:
    """Waits until the auditor has read every event published so far and its clock has reached `until`; returns
    its clock."""
    deadline = time.monotonic() + patience
    while True:
        response = await client.get("/v1/clock", headers=headers)
        if response.status_code != 200:
            raise SimulationError(f"auditor clock: {response.status_code} {response.text[:200]}")
        reading = response.json()
        if reading["mode"] != "event_time":
            raise SimulationError(
                "the auditor runs on the wall clock: start the system with `crimerec up --simulation`"
            )
        now = datetime.fromisoformat(reading["now"]) if reading["now"] else None
        if reading["caught_up"] and now is not None and now >= until:
            return now
        if time.monotonic() > deadline:
            raise SimulationError(
                f"the auditor did not catch up with {until.isoformat()} in {patience:.0f} s: {reading}"
            )
        await asyncio.sleep(poll)


async def _again(request: Callable[[], Awaitable[httpx.Response]], tries: int = 3) -> httpx.Response:
    """An idempotent request (a read, or a contact with its Idempotency-Key), tried again when the connection
    broke under it (a kept-alive connection the server closed just then) or the server failed it (a 5xx: nothing
    stored, seen when a shared database ran out of connections): it cannot be stored twice."""
    for attempt in range(tries):
        try:
            response = await request()
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
            if attempt == tries - 1:
                raise
        else:
            if response.status_code < 500 or attempt == tries - 1:
                return response
        await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)
