"""The kills of a chaos run, one after another at random moments, each timed until the stack is back."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx

from crimerec.chaos.stack_process import SERVICES, UpProcess

RECOVERY_TIMEOUT_S = 120.0

Probe = Callable[[], Awaitable[uuid.UUID | None]]
"""Posts one contact (retrying until intake acknowledges it); returns its contact id."""


@dataclass
class Kill:
    """One SIGKILL and how long the stack took to come back from it."""

    target: str  # intake, recorder, auditor, broker, database, everything
    at_s: float  # seconds after the load began
    pids: list[int]
    ready_s: float | None = None  # until every service answered /readyz again (the killed one replaced)
    through_s: float | None = None  # until a contact posted at the kill had reached the auditor


def kill_plan(*, kills_per_service: int, broker: bool, database: bool, everything: bool, seed: int) -> list[str]:
    """Which process each kill takes, in a random order (the same seed, the same order)."""
    plan = [name for name in SERVICES for _ in range(kills_per_service)]
    plan += ["broker"] * broker + ["database"] * database + ["everything"] * everything
    random.Random(seed).shuffle(plan)
    return plan


class FaultInjector:
    """Runs a kill plan against a stack while its load runs, timing each recovery."""

    def __init__(self, *, up: UpProcess, plan: list[str], seed: int, probe: Probe) -> None:
        """Remember the stack, the plan, and how to post a probe contact."""
        self.up, self.plan, self.probe = up, plan, probe
        self.rng = random.Random(seed + 1)
        self.kills: list[Kill] = []
        self.dsn = up.database_dsn()

    async def run(self, started: float, duration_s: float) -> list[Kill]:
        """Kills each target at a random moment of the load (never before the last kill has recovered)."""
        moments = sorted(self.rng.uniform(0.05, 0.9) * duration_s for _ in self.plan)
        for target, moment in zip(self.plan, moments, strict=True):
            await asyncio.sleep(max(started + moment - time.monotonic(), 0.5))
            self.kills.append(await self.kill(target, started))
        return self.kills

    async def kill(self, target: str, started: float) -> Kill:
        """SIGKILLs one target and times its recovery."""
        role = {"database": "postgres"}.get(target, target)
        before = {name: self.up.live_pid(name) for name in SERVICES}
        killed_at = time.monotonic()
        if target == "everything":
            pids = self.up.kill_everything()
            self.up.start()  # `crimerec up` again on the same folder, as a person (or systemd) would
        else:
            pids = [pid for pid in [self.up.kill(role)] if pid]
        kill = Kill(target=target, at_s=killed_at - started, pids=pids)
        probe = asyncio.create_task(self._through(killed_at))
        kill.ready_s = await self._ready(target, before, killed_at)
        kill.through_s = await probe
        return kill

    async def _ready(self, target: str, before: dict[str, int | None], killed_at: float) -> float | None:
        """Seconds until every service is ready again, the killed one (or all, after the broker) replaced."""
        must_change = set(SERVICES) if target in ("broker", "everything") else {target} & set(SERVICES)
        deadline = killed_at + RECOVERY_TIMEOUT_S
        async with httpx.AsyncClient(trust_env=False) as client:
            while time.monotonic() < deadline:
                replaced = all(self.up.live_pid(name) not in (None, before[name]) for name in must_change)
                if replaced and await self.up.all_ready(client):
                    return time.monotonic() - killed_at
                await asyncio.sleep(0.1)
        return None

    async def _through(self, killed_at: float) -> float | None:
        """Seconds until a contact posted right after the kill has been decided and audited."""
        contact_id = await self.probe()
        deadline = killed_at + RECOVERY_TIMEOUT_S
        while contact_id is not None and time.monotonic() < deadline:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=2)
                try:
                    seen = await conn.fetchval(
                        "SELECT outcome IS NOT NULL FROM auditor.contacts WHERE contact_id = $1", contact_id
                    )
                finally:
                    await conn.close()
                if seen:
                    return time.monotonic() - killed_at
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pass  # the database is one of the things that can be down
            await asyncio.sleep(0.2)
        return None
