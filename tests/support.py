"""Helpers the tests share: waiting for asynchronous effects, and building contacts."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from schemas.contact_examples import EXAMPLE_SINGLE_VICTIM

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
SHARED_EXAMPLES = REPO.parent / "shared" / "examples"


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 30.0, interval: float = 0.1) -> T:
    """Polls `check` until it returns something truthy without failing an assertion, or fails after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: BaseException | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        if loop.time() > deadline:
            raise AssertionError(f"not true within {within} s: {last}") from last
        await asyncio.sleep(interval)


def contact(**changes: Any) -> dict[str, Any]:
    """A valid contact body (one identified victim, assault with injury) with a fresh source reference."""
    now = datetime.now(UTC).replace(microsecond=0)
    body = copy.deepcopy(EXAMPLE_SINGLE_VICTIM) | {
        "source": {"system": "STORM", "reference": f"INC-{uuid.uuid4().hex[:12]}"},
        "received_at": (now - timedelta(minutes=5)).isoformat(),
        "location": {"description": "outside a bar", "postcode": None, "force_area": "GMP"},
        "occurred_from": (now - timedelta(minutes=40)).isoformat(),
        "occurred_to": (now - timedelta(minutes=30)).isoformat(),
        "narrative": "Caller was punched twice in the face outside a bar; nose bleeding.",
    }
    for key, value in changes.items():
        body[key] = copy.deepcopy(value)
    return body


def shared_example(name: str) -> dict[str, Any]:
    """One of the worked examples in ../shared/examples (contact and expected decision)."""
    data: dict[str, Any] = json.loads((SHARED_EXAMPLES / f"{name}.json").read_text())
    return data


def idempotency_key() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"Idempotency-Key": uuid.uuid4().hex}


# Auditor settings that let webhooks reach this machine's loopback receivers, and nothing else: every test auditor
# that takes subscriptions uses them (the default allow-list is empty, so no subscription could be made).
LOOPBACK_WEBHOOKS: dict[str, Any] = {
    "webhook_allowed_hosts": ["127.0.0.1", "localhost", "::1"],
    "webhook_allowed_networks": ["127.0.0.0/8", "::1/128"],
    "webhook_allow_http": True,
}
