"""The recording rate summed in the database is the rate the pure rules give, contact by contact.

On a fresh database: contacts projected before revision 0007 get their required categories from the migration's
backfill, exactly as the projection now stores them; then, over a seeded mix of facts, outcomes, evidence, lapsed
deadlines, crimes (live, transferred, cancelled rightly and wrongly, late) and removals, the repository's SQL tally
equals rules/counting.should_units + rules/statistics.RecordingTally.add_contact, category by category: from the
shares revision 0008 writes for the contacts already there, and from those the auditor writes as contacts change.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crimerec import stack
from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ReporterRelationship
from schemas.vocabulary import Outcome
from services.auditor import stats_repository
from services.auditor.models import contacts, crimes, recording_units, removals
from services.auditor.rules import statistics
from services.auditor.rules.counting import required_categories, should_units
from services.auditor.rules.facts import ReportedFacts
from services.runtime.database import create_engine, create_session_factory
from services.runtime.migrate import alembic_config
from services.runtime.settings import EngineSettings
from tests.conftest import Server, create_database, drop_database

FORCE = "TLY"
START = datetime(2026, 3, 2, tzinfo=UTC)
# Victim-based and state offences, one not recordable at first contact, one the catalogue lacks.
CLASSES = ["8N", "105A", "19C", "17A", "28E", "49", "58A", "34B", "5D", "104", "92E", "35"]
CATALOGUE = OffenceCatalogue.default()


def _facts(rng: random.Random) -> dict[str, Any]:
    victims = [
        {"ref": f"V{i}", "kind": "person", "identified": rng.random() < 0.8, "confirmed": rng.random() < 0.5}
        for i in range(rng.randint(0, 3))
    ]
    offences = [
        {
            "victim_ref": rng.choice([v["ref"] for v in victims] + [None]),
            "ho_class": rng.choice([c for c in CLASSES if c in CATALOGUE.offences]),
            "offender_ref": None,
            "incident_ref": rng.choice([None, "I1", "I2"]),
        }
        for _ in range(rng.randint(0, 4))
    ]
    return {
        "force": FORCE, "category": "crime", "reporter": rng.choice(list(ReporterRelationship)).value,
        "victims": victims, "offences": offences, "credible_evidence": rng.random() < 0.05, "force_area": None,
    }  # fmt: skip


def _config(url: str) -> Any:
    return alembic_config(stack.PROCESSES["auditor"].migrations, database_url=url, schema="auditor")


@pytest.fixture
async def fresh(pg_server: Server) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A database of its own, the auditor's schema at revision 0006 (before the stored categories and shares)."""
    url = create_database(pg_server, prefix="crimerec_tally")
    await asyncio.to_thread(command.upgrade, _config(url), "0006")
    engine = create_engine(EngineSettings(database_url=SecretStr(url)))
    try:
        yield url, engine
    finally:
        await engine.dispose()
        drop_database(pg_server, url)


async def test_the_sql_tally_is_the_rules_tally_and_old_contacts_are_backfilled(
    fresh: tuple[str, AsyncEngine],
) -> None:
    url, engine = fresh
    rng = random.Random(18)
    rows = []
    for index in range(400):
        received = START + timedelta(hours=index)
        rows.append({
            "contact_id": uuid.uuid4(), "force": FORCE, "category": "crime", "received_at": received,
            "recording_deadline": received + timedelta(hours=24), "facts": _facts(rng),
        })  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(insert(contacts), rows)
    await asyncio.to_thread(command.upgrade, _config(url), "0007")  # 0007 backfills them

    async with engine.connect() as connection:
        stored = {
            r.contact_id: (r.required_categories, r.required_categories_unconfirmed)
            for r in await connection.execute(select(contacts))
        }
    for row in rows:
        facts = ReportedFacts.from_json(row["facts"])
        assert stored[row["contact_id"]] == (
            required_categories(facts, CATALOGUE, confirmation_needed=True),
            required_categories(facts, CATALOGUE, confirmation_needed=False),
        )

    expected = await _decide_and_record(engine, rows, rng)
    await asyncio.to_thread(stack.migrate_all, url)  # 0008 writes each contact's share of the rate
    sessions = create_session_factory(engine)
    await _tally_is(sessions, expected)
    # The auditor keeps them as they change: written again from scratch, they are the same.
    async with sessions() as session, session.begin():
        await session.execute(delete(recording_units))
        await stats_repository.refresh_units(session, [row["contact_id"] for row in rows])
    await _tally_is(sessions, expected)

    # R for several windows at once, each as its own count would give it.
    windows = [(START + timedelta(days=a), START + timedelta(days=b)) for a, b in ((0, 5), (2, 9), (9, 9.5), (-3, 40))]
    async with sessions() as session:
        counted = await stats_repository.crimes_recorded_in(session, force=FORCE, windows=windows)
        async with engine.connect() as connection:
            times = [r.recorded_at for r in await connection.execute(select(crimes.c.recorded_at))]
    assert counted == [sum(1 for t in times if a <= t < b) for a, b in windows]
    assert all(counted[:3]) and counted[3] == len(times)


async def _tally_is(sessions: async_sessionmaker[AsyncSession], expected: Any) -> None:
    """The SQL tally, for one period and for weeks with a short last one, is the rules' tally of each."""
    for start, end, width in (
        (START, START + timedelta(days=30), timedelta(days=30)),  # one period
        (START + timedelta(days=3, hours=5), START + timedelta(days=16), timedelta(days=7)),  # weeks, a short last
    ):
        async with sessions() as session:
            summed = await stats_repository.recording_tally(session, force=FORCE, start=start, end=end, width=width)
        buckets = 0
        while (at := start + width * buckets) < end:
            tally = expected(at, min(at + width, end))
            mine = [r for r in summed if r.bucket == buckets]
            assert {r.category: (int(r.should), int(r.correct)) for r in mine if r.should or r.correct} == {
                category: (tally.should[category], tally.correct[category])
                for category in set(tally.should) | set(tally.correct)
                if tally.should[category] or tally.correct[category]
            }
            assert (sum(int(r.recorded) for r in mine), sum(int(r.on_time) for r in mine)) == (
                tally.recorded,
                tally.on_time,
            )
            assert tally.recorded > 0 and sum(tally.should.values()) > tally.recorded  # the mix proves something
            assert len(tally.should) >= 3
            buckets += 1
        assert {r.bucket for r in summed} == set(range(buckets))


async def _decide_and_record(engine: AsyncEngine, rows: list[dict[str, Any]], rng: random.Random) -> Any:
    """Gives each contact a random decision, lapsed deadline and crimes (with removals); returns the rules'
    tally of any period, computed contact by contact in Python from the same data."""
    outcomes: list[str | None] = [None, *(o.value for o in Outcome)]
    per_contact = []
    decisions: list[dict[str, Any]] = []
    crime_rows: list[dict[str, Any]] = []
    removal_rows: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        outcome = rng.choice(outcomes)
        evidence = rng.random() < 0.3
        lapsed = rng.random() < 0.5
        decision = {"outcome": outcome, "credible_evidence": "(given)" if evidence else None} if outcome else None
        decisions.append({"id": row["contact_id"], "o": outcome, "d": decision, "lapsed": lapsed})
        outcomes_of = []
        for number in range(rng.choice([0, 0, 1, 1, 2, 3])):
            reference = f"{FORCE}-{index:04d}-{number}"
            ho_class = rng.choice([c for c in CLASSES if c in CATALOGUE.offences])
            category = CATALOGUE.offences[ho_class].audit_category.value
            status = rng.choice(["recorded", "recorded", "transferred", "cancelled", "cancelled"])
            recorded_at = row["received_at"] + timedelta(hours=rng.choice([1, 30]))
            crime_rows.append({
                "crime_reference": reference, "contact_id": row["contact_id"], "force": FORCE, "ho_class": ho_class,
                "audit_category": category, "status": status, "recorded_at": recorded_at,
                "recording_deadline": row["recording_deadline"], "received_at": row["received_at"],
            })  # fmt: skip
            judged: bool | None = None
            if status == "cancelled" and rng.random() < 0.8:
                verdicts = [rng.random() < 0.6 for _ in range(rng.choice([1, 1, 2]))]
                judged = all(verdicts)
                for verdict in verdicts:
                    removal_rows.append({
                        "event_id": uuid.uuid4(), "crime_reference": reference, "contact_id": row["contact_id"],
                        "force": FORCE, "kind": "cancelled", "code": "C2", "audit_category": category,
                        "ho_class": ho_class, "removed_at": recorded_at, "notify_by": recorded_at,
                        "victim_told": True, "judged_correct": verdict, "detail": {}, "notice_checked": True,
                    })  # fmt: skip
            outcomes_of.append(
                statistics.CrimeOutcome(category, status, recorded_at <= row["recording_deadline"], judged)
            )
        per_contact.append((row, outcome, evidence, lapsed, outcomes_of))
    async with engine.begin() as connection:
        await connection.execute(
            update(contacts)
            .where(contacts.c.contact_id == bindparam("id"))
            .values(outcome=bindparam("o"), decision=bindparam("d"), deadline_checked=bindparam("lapsed")),
            decisions,
        )
        await connection.execute(insert(crimes), crime_rows)
        await connection.execute(insert(removals), removal_rows)

    def expected(start: datetime, end: datetime) -> statistics.RecordingTally:
        tally = statistics.RecordingTally()
        for row, outcome, evidence, lapsed, outcomes_of in per_contact:
            if not start <= row["received_at"] < end:
                continue
            facts = ReportedFacts.from_json(row["facts"])
            units = should_units(facts, CATALOGUE, outcome=outcome, evidence_given=evidence, deadline_passed=lapsed)
            required = [o.audit_category.value for code in units if (o := CATALOGUE.get(code)) is not None]
            tally.add_contact(required, outcomes_of)
        return tally

    assert Counter(r["status"] for r in crime_rows)["cancelled"] > 10
    return expected
