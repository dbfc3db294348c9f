"""When the supervisor restarts a process that died, and when it stops trying."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from crimerec.processes import log_tail

STABLE_AFTER_S = 30.0
"""A process that ran this long before it died was healthy: its next restart is immediate, its count starts again."""

GIVE_UP_AFTER_S = 180.0
"""A process that keeps dying this long, never staying up STABLE_AFTER_S, is a fault a restart will not cure."""


class GiveUp(Exception):
    """A process kept failing for minutes: the supervisor stops the whole stack and says why."""


def restart_delay(failures: int) -> float:
    """The wait before restart number `failures` in a row: half a second, doubling to half a minute."""
    return float(min(0.5 * 2 ** max(failures - 1, 0), 30.0))


@dataclass
class Failures:
    """A run of failures of one process: how many in a row, since when, and when it may start again."""

    count: int = 0
    since: float | None = None
    next_start: float | None = None
    last_code: int | None = None

    def died(self, *, code: int | None, started_at: float, now: float, give_up_after: float) -> float:
        """Notes a death; returns the delay before the restart, or raises GiveUp when failing has lasted too long."""
        started_since_failing = self.since is None or started_at > self.since
        if started_since_failing and now - started_at >= STABLE_AFTER_S:
            self.count, self.since = 0, None  # it had been healthy: this is a new fault, not the same one
        self.count += 1
        self.last_code = code
        self.since = now if self.since is None else self.since
        if now - self.since >= give_up_after:
            raise GiveUp(f"kept failing for {now - self.since:.0f} s ({self.count} times in a row, last exit {code})")
        delay = restart_delay(self.count)
        self.next_start = now + delay
        return delay

    def due(self, now: float) -> bool:
        """True when a restart is waiting and its time has come."""
        return self.next_start is not None and now >= self.next_start


@dataclass
class Child:
    """One service process, how often it has been restarted, and its current run of failures."""

    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    failures: Failures | None = None

    def __post_init__(self) -> None:
        """Every child starts with a clean record."""
        self.failures = self.failures or Failures()

    def exited(self) -> int | None:
        """The exit code when the process has died (and no restart has been spawned yet), else None."""
        if self.process is None:
            return None
        return self.process.poll()

    def give_up_message(self, reason: GiveUp, log: Path) -> str:
        """What the supervisor says when it stops the stack because of this child."""
        return f"{self.name} {reason}; stopping everything. See {log}:\n{log_tail(log, 15)}"


def now() -> float:
    """The supervisor's clock (monotonic seconds)."""
    return time.monotonic()
