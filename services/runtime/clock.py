"""What time it is for a service: the wall clock, or — when the system runs a simulation — simulated time.

A simulation (`crimerec simulate`) plays weeks of a force's work in minutes. Every service then reads the time the
simulation says, never the wall clock, so a crime recorded "at once" is recorded at its contact's simulated time:
- an HTTP request says its simulated time in the `Crimerec-Simulated-Time` header (honoured only by services started
  with `CRIMEREC_SIMULATED_CLOCK=true`; any other service refuses the header);
- an event is handled at the time it occurred, as it would be live, however late the consumer reads it.
Outside a simulation `now()` is the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

SIMULATED_TIME_HEADER = "Crimerec-Simulated-Time"

_simulated_now: ContextVar[datetime | None] = ContextVar("simulated_now", default=None)


def now() -> datetime:
    """The current time, aware, in UTC: the simulated time in effect, else the wall clock."""
    return _simulated_now.get() or datetime.now(UTC)


def simulating() -> bool:
    """True while simulated time is in effect."""
    return _simulated_now.get() is not None


def when_handling(occurred_at: datetime) -> datetime:
    """The time an event is handled at: in a simulation the event's own time (the system reacts at once, as live),
    else the wall clock."""
    return occurred_at if simulating() else datetime.now(UTC)


@contextmanager
def simulated(at: datetime) -> Iterator[None]:
    """Puts simulated time `at` in effect for the code inside (this task and what it awaits)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("simulated time must carry a timezone")
    token = _simulated_now.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _simulated_now.reset(token)
