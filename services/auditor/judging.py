"""The auditor's clock: the time deadlines are judged by, live or by event time, read by the deadline sweeper and
the API alike."""

from __future__ import annotations

from datetime import datetime

from services.runtime import clock
from services.runtime.service_runtime import ServiceRuntime

SUBSCRIPTION = "auditor.projection"  # the consumer whose event-time watermark the clock follows


def judging_time(runtime: ServiceRuntime, *, event_time: bool) -> datetime | None:
    """The time the auditor judges deadlines by now: the wall clock when live and caught up; otherwise (replaying,
    simulating, or behind) the event time every partition has been read to, so nothing is called missing that is
    merely not read yet. None before anything is read."""
    now = clock.now()
    if event_time or not runtime.caught_up():
        runner = runtime.runners.get(SUBSCRIPTION)
        watermark = runner.watermark() if runner is not None else None
        if watermark is None:
            return None
        now = min(now, watermark) if not event_time else watermark
    return now
