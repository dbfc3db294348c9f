"""The one backoff every retry loop of the runtime waits with: exponential, with a ceiling."""

from __future__ import annotations

import asyncio


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
