"""Contacts posted to intake at a steady rate by several clients, each retried with its Idempotency-Key until
intake acknowledges it (a POST whose answer was lost is retried; intake returns the first answer, no duplicate)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

RETRY_PAUSE_S = 0.25


def chaos_contact(run_id: str, number: int) -> dict[str, Any]:
    """Contact `number` of a run: an assault on one identified, confirmed victim, recordable at first contact."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "force": "GMP",
        "source": {"system": "STORM", "reference": f"CHAOS-{run_id}-{number:06d}"},
        "channel": "999",
        "received_at": (now - timedelta(minutes=2)).isoformat(),
        "reporter": {"relationship": "victim", "name": "as victim", "phone": None, "email": None},
        "victims": [
            {
                "ref": "V1",
                "kind": "person",
                "name": "Dana Holt",
                "date_of_birth": None,
                "identified": True,
                "confirmed": True,
            },
        ],
        "incident": {"category": "crime", "opening_code": None, "qualifiers": []},
        "location": {"description": "outside a bar", "postcode": None, "force_area": "GMP"},
        "occurred_from": (now - timedelta(minutes=40)).isoformat(),
        "occurred_to": (now - timedelta(minutes=30)).isoformat(),
        "offences": [{"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None}],
        "credible_evidence_to_contrary": None,
        "narrative": "Caller was punched twice in the face outside a bar; nose bleeding.",
    }


@dataclass
class LoadResult:
    """What the load sent and what intake acknowledged."""

    sent: int = 0
    attempts: int = 0
    acknowledged: dict[int, uuid.UUID] = field(default_factory=dict)  # contact number -> contact_id
    refused: dict[int, str] = field(default_factory=dict)  # numbers intake refused for good (4xx but 409)
    answers: dict[str, int] = field(default_factory=dict)  # status (or error name) -> how often


class ContactLoad:
    """Posts `total` contacts at `rate` a second from `clients` concurrent clients."""

    def __init__(self, *, intake: str, key: str, run_id: str, total: int, rate: float, clients: int) -> None:
        """Remember where to post and how much; nothing is sent until run()."""
        self.intake, self.key, self.run_id = intake, key, run_id
        self.total, self.rate, self.clients = total, rate, clients
        self.result = LoadResult()
        self._next = 0

    async def run(self) -> LoadResult:
        """Posts every contact (each until acknowledged, or refused for good); returns the tally."""
        started = time.monotonic()
        limits = httpx.Limits(max_connections=self.clients)
        async with httpx.AsyncClient(timeout=10, limits=limits, trust_env=False) as client:
            await asyncio.gather(*(self._client(client, started) for _ in range(self.clients)))
        return self.result

    async def _client(self, client: httpx.AsyncClient, started: float) -> None:
        while self._next < self.total:
            number = self._next
            self._next += 1
            due = started + number / self.rate
            await asyncio.sleep(max(due - time.monotonic(), 0))
            self.result.sent += 1
            await self.post_until_answered(client, number)

    async def post_until_answered(self, client: httpx.AsyncClient, number: int) -> None:
        """Posts contact `number` until intake acknowledges it or refuses it for good."""
        body = chaos_contact(self.run_id, number)
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": f"chaos-{self.run_id}-{number}"}
        while True:
            self.result.attempts += 1
            try:
                response = await client.post(f"{self.intake}/v1/contacts", json=body, headers=headers)
                answer = str(response.status_code)
            except httpx.HTTPError as exc:  # intake down or killed mid-request: the answer is lost, try again
                response, answer = None, type(exc).__name__
            self.result.answers[answer] = self.result.answers.get(answer, 0) + 1
            if response is not None and response.status_code in (200, 201):
                self.result.acknowledged[number] = uuid.UUID(response.json()["contact_id"])
                return
            if response is not None and 400 <= response.status_code < 500 and response.status_code not in (408, 409):
                self.result.refused[number] = response.text[:300]
                return
            await asyncio.sleep(RETRY_PAUSE_S)  # 409 (first try still in flight), 5xx, or no answer
