"""What a chaos run left in the database, counted against what intake acknowledged.

Ground truth: every contact the harness posts is an assault on one identified, confirmed victim, received two minutes
before it is posted, so the recording standard records exactly one crime from it at first contact, inside its
24-hour deadline, and the auditor has nothing to flag: expected flags and alerts are 0 for every contact.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import asyncpg

EXPECTED_CRIMES_PER_CONTACT = 1

_COUNTS = {
    # how many acknowledged contacts each stage holds
    "stored": "SELECT count(*) FROM intake.contacts WHERE contact_id = ANY($1)",
    "decided": "SELECT count(*) FROM recorder.decisions WHERE contact_id = ANY($1)",
    "recorded": "SELECT count(DISTINCT contact_id) FROM recorder.crimes WHERE contact_id = ANY($1)",
    "audited": "SELECT count(*) FROM auditor.contacts WHERE contact_id = ANY($1) AND outcome IS NOT NULL",
    "answered": "SELECT count(*) FROM intake.contacts WHERE contact_id = ANY($1) AND outcome IS NOT NULL",
}

_EVENTS = """
    SELECT count(*) - count(DISTINCT e->>'contact_id') FROM (
        SELECT convert_from(value, 'UTF8')::jsonb AS e FROM {table}) AS events
    WHERE e->>'event_type' = $2 AND (e->>'contact_id')::uuid = ANY($1)"""

_DUPLICATES = {
    # rows or events that exist more than once where the standard (or the design) allows one
    "crime records": """SELECT coalesce(sum(n - $2), 0) FROM (SELECT count(*) AS n FROM recorder.crimes
        WHERE contact_id = ANY($1) GROUP BY contact_id HAVING count(*) > $2) AS more""",
    "audited crimes": """SELECT coalesce(sum(n - $2), 0) FROM (SELECT count(*) AS n FROM auditor.crimes
        WHERE contact_id = ANY($1) GROUP BY contact_id HAVING count(*) > $2) AS more""",
    "contact.received events": _EVENTS.format(table="intake.outbox"),
    "contact.decided events": _EVENTS.format(table="recorder.outbox"),
    "crime.recorded events": _EVENTS.format(table="recorder.outbox"),
}
_DUPLICATE_ARG = {
    "crime records": EXPECTED_CRIMES_PER_CONTACT,
    "audited crimes": EXPECTED_CRIMES_PER_CONTACT,
    "contact.received events": "contact.received",
    "contact.decided events": "contact.decided",
    "crime.recorded events": "crime.recorded",
}


@dataclass
class Verdict:
    """The counts a chaos run is judged by."""

    acknowledged: int
    stages: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    intake_rows_of_run: int = 0
    flags_found: int = 0
    alerts_found: int = 0
    settle_s: float = 0.0

    @property
    def lost(self) -> int:
        """Acknowledged contacts that did not reach the end of the pipeline (stored, decided, recorded, audited)."""
        return self.acknowledged - min(self.stages.values(), default=0)

    @property
    def duplicated(self) -> int:
        """Every extra row or event, whatever its kind."""
        return sum(self.duplicates.values()) + max(self.intake_rows_of_run - self.acknowledged, 0)

    @property
    def flags_expected(self) -> int:
        """Flags the ground truth calls for: none (see the module's docstring)."""
        return 0


async def _count(dsn: str, ids: list[uuid.UUID], run_id: str) -> Verdict:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        verdict = Verdict(acknowledged=len(ids))
        for name, sql in _COUNTS.items():
            verdict.stages[name] = int(await conn.fetchval(sql, ids))
        for name, sql in _DUPLICATES.items():
            verdict.duplicates[name] = int(await conn.fetchval(sql, ids, _DUPLICATE_ARG[name]))
        verdict.intake_rows_of_run = int(
            await conn.fetchval(
                "SELECT count(*) FROM intake.contacts WHERE source_reference LIKE $1", f"CHAOS-{run_id}-%"
            )
        )
        flags = "SELECT count(*) FROM auditor.flags WHERE contact_id = ANY($1)"
        verdict.flags_found = int(await conn.fetchval(flags, ids))
        verdict.alerts_found = int(
            await conn.fetchval(
                "SELECT count(*) FROM (SELECT convert_from(value, 'UTF8')::jsonb AS e FROM auditor.outbox) AS a "
                "WHERE (e->>'contact_id')::uuid = ANY($1)",
                ids,
            )
        )
        return verdict
    finally:
        await conn.close()


async def settle_and_count(dsn: str, ids: list[uuid.UUID], run_id: str, *, patience_s: float = 90.0) -> Verdict:
    """Waits until every acknowledged contact has gone through every stage, or nothing has moved for `patience_s`
    (a consumer stuck behind), then counts."""
    started = time.monotonic()
    last_progress, best = started, -1
    while True:
        try:
            verdict = await _count(dsn, ids, run_id)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await asyncio.sleep(1)
            continue
        done = min(verdict.stages.values())
        if done > best:
            best, last_progress = done, time.monotonic()
        if done >= len(ids) or time.monotonic() - last_progress > patience_s:
            # One more look a moment later: a flag or a duplicate can trail the last decision.
            await asyncio.sleep(3)
            verdict = await _count(dsn, ids, run_id)
            verdict.settle_s = time.monotonic() - started
            return verdict
        await asyncio.sleep(2)
