"""Supervisors working the recorder's screening review queue in a simulation (issue 18).

Every simulated hour a supervisor reads the queue (positive narrative screens not yet reviewed). Each screen seen is
given a fate drawn from the plan's seed and the contact's place in the plan, so the same plan gives the same fates
whatever order the queue happened to show them in: most are reviewed well within the 24-hour deadline, some after
it, and some never. A review records the crimes the narrative discloses (the offences the plan planted) or, when it
discloses none (the screener was wrong), confirms the decision not to record one. What the supervisors did, and
what the screener said of every contact first contact did not record, go into the truth: the auditor's
HIDDEN_CRIME_UNREVIEWED and LATE_RECORD flags are judged against them, whatever the screener got right or wrong.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crimerec.simulation.truth import LIMIT, RECORDED_AT_FIRST_CONTACT

if TYPE_CHECKING:
    from crimerec.simulation.driver import Driver

ON_TIME, LATE = 0.8, 0.1  # the rest are never reviewed
ON_TIME_WITHIN = (timedelta(hours=1), timedelta(hours=18))  # from receipt: the auditor's clock is hours behind
LATE_BY = (timedelta(hours=2), timedelta(hours=30))  # after the deadline
PAGE = 500


@dataclass
class Planned:
    """A review a supervisor will make: when, and what it decides."""

    index: int
    contact_id: str
    at: datetime
    record: bool


class Reviewer:
    """The supervisors of the simulated force, acting on the screening review queue through the recorder's API."""

    def __init__(self, driver: Driver, *, seed: int = 0) -> None:
        self.driver = driver
        self.seed = seed
        self.seen: set[str] = set()
        self.planned: list[Planned] = []
        self.reviews: dict[str, dict[str, Any]] = {}
        self.left: dict[str, str] = {}  # contact id → deadline, screens nobody will review
        self.by_id: dict[str, int] = {}

    async def act(self, now: datetime) -> None:
        """Reads the queue as of `now` (a simulated hour) and makes the reviews due by then."""
        self.by_id = {cid: index for index, cid in self.driver.ids.items()}
        for item in await self.queue(now):
            if item["contact_id"] not in self.seen:
                self.seen.add(item["contact_id"])
                self.fate(item, now)
        due = [p for p in self.planned if p.at <= now]
        self.planned = [p for p in self.planned if p.at > now]
        await asyncio.gather(*(self.review(p) for p in due))

    async def queue(self, now: datetime) -> list[dict[str, Any]]:
        """Every positive screen waiting for review, all pages."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            response = await self.driver.clients.recorder.get(
                "/v1/screening/reviews", params=params, headers=self.driver.headers("supervisor", now)
            )
            response.raise_for_status()
            page = response.json()
            items.extend(page["items"])
            if page["next_after"] is None:
                return items
            params["after"] = page["next_after"]

    def fate(self, item: dict[str, Any], now: datetime) -> None:
        """On time, late or never: drawn once per screen from the seed and the contact's index, not from the order
        the queue showed them in (which depends on when each screen was made)."""
        index = self.by_id.get(item["contact_id"])
        if index is None:
            return  # not a contact of this run
        contact = self.driver.plan.contacts[index]
        rng = random.Random(f"reviews/{self.seed}/{index}")
        draw = rng.random()
        deadline = datetime.fromisoformat(item["review_deadline"])
        if draw < ON_TIME:
            at = max(now, contact.received_at + _between(rng, *ON_TIME_WITHIN))
        elif draw < ON_TIME + LATE:
            at = deadline + _between(rng, *LATE_BY)
        else:
            self.left[item["contact_id"]] = item["review_deadline"]
            return
        self.planned.append(Planned(index, item["contact_id"], at, record=bool(contact.disclosed)))

    async def review(self, planned: Planned) -> None:
        contact = self.driver.plan.contacts[planned.index]
        if planned.record:
            body: dict[str, Any] = {
                "action": "record",
                "offences": contact.disclosed,
                "rationale": "The narrative discloses the offence against the caller: recorded on their account.",
            }
        elif contact.kind in RECORDED_AT_FIRST_CONTACT:
            body = {"action": "confirm_non_crime", "rationale": "Recorded at first contact (and transferred)."}
        else:
            body = {"action": "confirm_non_crime", "rationale": "Read the narrative: no offence is disclosed."}
        async with self.driver.limit:
            response = await self.driver.clients.recorder.post(
                f"/v1/screening/reviews/{planned.contact_id}", json=body,
                headers=self.driver.headers("supervisor", planned.at),
            )  # fmt: skip
        if response.status_code != 200:
            self.driver.outcome.refused.append(
                f"screening review {contact.reference} at {planned.at.isoformat()}: {response.status_code} "
                f"{response.text[:300]}"
            )
            return
        self.driver.known.pop(planned.index, None)  # a review that records changes the contact's decision
        self.reviews[contact.reference] = {
            "contact_id": planned.contact_id,
            "reviewed_at": planned.at.isoformat(),
            "action": body["action"],
            "crimes": len(contact.disclosed) if planned.record else 0,
            "on_time": planned.at <= contact.received_at + LIMIT,
        }

    async def finish(self, last: datetime) -> None:
        """The reviews due by the run's last step (later ones are never made: the run ended)."""
        await self.act(last)
        self.planned = []

    async def results(self) -> dict[str, dict[str, Any]]:
        """What the screener said of every contact first contact did not record here (transfers included), by
        contact id."""
        wanted = [cid for index, cid in self.driver.ids.items() if self.driver.plan.contacts[index].kind != "recorded"]
        results: dict[str, dict[str, Any]] = {}

        async def read(contact_id: str) -> None:
            async with self.driver.limit:
                response = await self.driver.clients.recorder.get(
                    f"/v1/contacts/{contact_id}/screening",
                    headers={"Authorization": f"Bearer {self.driver.keys['auditor']}"},
                )
            if response.status_code == 200:
                row = response.json()
                results[contact_id] = {
                    key: row[key] for key in ("positive", "families", "score", "mode", "review_deadline", "reviewed_at")
                }

        await asyncio.gather(*(read(cid) for cid in wanted))
        return results


def _between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    return low + (high - low) * rng.random()
