"""The auditor handles a polled run of events at once (set-based, judged in memory): it must leave exactly the flags,
flag histories and alerts that handling the same events one at a time leaves, whatever mix of events and read
order (records before their report) the run holds."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from schemas.catalogue import AuditCategory
from schemas.envelope import Envelope
from schemas.events import (
    ContactDecided,
    CrimeReclassified,
    EventPayload,
    N100Recorded,
    Outcome,
    VictimNotified,
    envelope_for,
)
from services.auditor import repository, service, stats_repository
from services.auditor.ledger import FlagLedger, raise_flags
from services.auditor.models import outbox
from services.auditor.rules.flags import FlagDraft, Rule, Severity
from services.auditor.rules.policy import AuditPolicy
from services.auditor.rules.standard import Standard
from services.runtime.database import create_engine, create_session_factory
from services.runtime.messaging import unit_of_work
from services.runtime.settings import EngineSettings
from tests.auditor.test_flag_clock import (
    CATALOGUE,
    DAY,
    FORCE,
    HOUR,
    OFFICER,
    cancelled,
    crn_for,
    decided,
    received,
    recorded,
)
from tests.conftest import Server, create_database, drop_database
from tests.support import contact

STANDARD = Standard(catalogue=CATALOGUE, policy=AuditPolicy(), event_time=True)
V2 = {"ref": "V2", "kind": "person", "name": "Sam Lee", "date_of_birth": None, "identified": True, "confirmed": True}


def _non_crime(contact_id: UUID, *, received_at: datetime, at: datetime) -> ContactDecided:
    return ContactDecided(
        contact_id=contact_id, force=FORCE, outcome=Outcome.NON_CRIME, crime_references=[],
        rationale="No crime, in the officer's view.", rules_version="legacy-1", decided_at=at,
        recording_deadline=received_at + 24 * HOUR, received_at=received_at, decided_by=OFFICER,
    )  # fmt: skip


KINDS = ["on_time", "late", "never", "under_count", "rape_n100", "cancel", "downgrade", "records_first", "cancel"]


def _story(n: int, t: datetime) -> list[tuple[EventPayload, datetime]]:
    """The nth contact's events in the order a records system might publish them, each with its time."""
    c = uuid.uuid4()
    crn = crn_for(c)
    kind = KINDS[n % len(KINDS)]
    report = (received(c, t), t)
    match kind:
        case "on_time":
            return [report, (recorded(c, crn, received_at=t, at=t + HOUR), t + HOUR),
                    (decided(c, [crn], received_at=t, at=t + HOUR), t + HOUR)]  # fmt: skip
        case "late" | "records_first":
            late = t + 30 * HOUR
            events = [
                (recorded(c, crn, received_at=t, at=late), late),
                (decided(c, [crn], received_at=t, at=late), late),
            ]
            return [*events, report] if kind == "records_first" else [report, *events]
        case "never":
            return [report]
        case "under_count":
            two = received(c, t, victims=[contact()["victims"][0], V2], offences=[
                {"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None},
                {"victim_ref": "V2", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None},
            ])  # fmt: skip
            second = crn_for(uuid.uuid4())
            return [(two, t), (recorded(c, crn, received_at=t, at=t + HOUR), t + HOUR),
                    (decided(c, [crn], received_at=t, at=t + HOUR), t + HOUR),
                    (recorded(c, second, received_at=t, at=t + 2 * HOUR), t + 2 * HOUR)]  # fmt: skip
        case "rape_n100":
            rape = received(c, t, offences=[{"victim_ref": "V1", "ho_class": "19C", "offender_ref": "S1"}])
            n100 = N100Recorded(
                contact_id=c, n100_id=uuid.uuid4(), force=FORCE, reported_class="19C", reason="Late N100.",
                recorded_at=t + 3 * HOUR, recorded_by=OFFICER,
            )  # fmt: skip
            return [(rape, t), (_non_crime(c, received_at=t, at=t + 2 * HOUR), t + 2 * HOUR), (n100, t + 3 * HOUR)]
        case "cancel":
            events = [report, (recorded(c, crn, received_at=t, at=t + HOUR), t + HOUR),
                      (decided(c, [crn], received_at=t, at=t + HOUR), t + HOUR),
                      (cancelled(c, crn, at=t + DAY + HOUR, authorised_by=OFFICER), t + DAY + HOUR)]  # fmt: skip
            if n % 2:  # the victim told of one cancellation in two
                told = VictimNotified(
                    contact_id=c, crime_reference=crn, force=FORCE, notified_at=t + 2 * DAY, method="phone",
                    notified_by=OFFICER,
                )  # fmt: skip
                events.append((told, t + 2 * DAY))
            return events
        case _:
            down = CrimeReclassified(
                contact_id=c, crime_reference=crn, force=FORCE, previous_class="8N",
                previous_audit_category=AuditCategory.VIOLENCE, new_class="9A",
                new_audit_category=AuditCategory.OTHER, offence_group="g", reason="Looked again.",
                new_information=False, reclassified_by=OFFICER, reclassified_at=t + 30 * HOUR,
            )  # fmt: skip
            return [report, (recorded(c, crn, received_at=t, at=t + HOUR), t + HOUR),
                    (decided(c, [crn], received_at=t, at=t + HOUR), t + HOUR), (down, t + 30 * HOUR)]  # fmt: skip


def _stream(seed: int, start: datetime) -> list[tuple[Envelope, EventPayload]]:
    """Forty-five contacts over ten days, their stories interleaved as one partition would hand them over."""
    rng = random.Random(seed)
    stories = [_story(n, start + rng.random() * 10 * DAY) for n in range(45)]
    stories.append(_story(0, start + 30 * DAY))  # a contact on time, long after: every deadline has passed
    merged = []
    for story in stories:
        for position, (payload, at) in enumerate(story):
            # Time order, but each story's own order kept (records first stays records first).
            merged.append((max(a for _, a in story[: position + 1]), rng.random(), payload, at))
    merged.sort(key=lambda item: (item[0], item[1]))
    return [
        (envelope_for(payload, producer="legacy-records", correlation_id=payload.contact_id, occurred_at=at), payload)
        for _, _, payload, at in merged
    ]


@pytest.fixture
async def databases(pg_server: Server, engines: EngineSettings) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two fresh auditor databases."""
    urls = [create_database(pg_server, prefix="crimerec_auditor_runs") for _ in range(2)]
    try:
        for url in urls:
            await asyncio.to_thread(stack.migrate_all, url)
        first, second = (create_engine(engines.model_copy(update={"database_url": SecretStr(u)})) for u in urls)
        try:
            yield first, second
        finally:
            await first.dispose()
            await second.dispose()
    finally:
        for url in urls:
            drop_database(pg_server, url)


async def _handle(db: AsyncEngine, runs: list[list[tuple[Envelope, EventPayload]]]) -> None:
    factory = create_session_factory(db)
    for run in runs:
        async with unit_of_work(factory, outbox) as uow:
            uow.watermark = lambda event_time: event_time  # one partition: the event in hand's own time
            await service.on_events(uow, run, standard=STANDARD)


async def _outcome(db: AsyncEngine) -> dict[str, Any]:
    """Flags, their histories and the alerts, with flag ids (which differ by insertion order) as rule and subject."""
    async with db.connect() as conn:
        flags = (await conn.execute(text("SELECT * FROM auditor.flags"))).mappings().all()
        ids = {f["flag_id"]: (f["rule"], f["subject"]) for f in flags}
        history = (await conn.execute(text("SELECT * FROM auditor.flag_history"))).mappings().all()
        alerts = (await conn.execute(text("SELECT * FROM auditor.alert_stream"))).mappings().all()
        outbox_events = await conn.scalar(text("SELECT count(*) FROM auditor.outbox"))
        units = [tuple(r) for r in await conn.execute(text(UNITS))]
    per_flag: dict[Any, list[Any]] = {}
    for h in sorted(history, key=lambda h: h["id"]):
        per_flag.setdefault(ids[h["flag_id"]], []).append((h["at"], h["status"], h["note"]))
    for a in sorted(alerts, key=lambda a: a["seq"]):
        per_flag.setdefault(ids[a["flag_id"]], []).append((a["at"], a["body"]["event"], a["body"]["status"]))
    return {
        "flags": sorted(tuple(str(v) for k, v in f.items() if k != "flag_id") for f in flags),
        "lives": per_flag,
        "outbox": outbox_events,
        "units": sorted(units, key=str),
    }


UNITS = (
    "SELECT contact_id, category, force, received_at, should, correct, recorded, on_time FROM auditor.recording_units"
)


async def _units_from_scratch(db: AsyncEngine) -> list[tuple[Any, ...]]:
    """Each contact's share of the recording rate written again from what the projection holds now, as if every
    contact had just changed: what the auditor kept as events came must be the same."""
    async with create_session_factory(db)() as session, session.begin():
        ids = list(await session.scalars(text("SELECT contact_id FROM auditor.contacts")))
        await stats_repository.refresh_units(session, ids)
        rows = [tuple(r) for r in await session.execute(text(UNITS))]
        await session.rollback()
    return sorted(rows, key=str)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_run_at_once_leaves_what_one_event_at_a_time_leaves(
    seed: int, databases: tuple[AsyncEngine, AsyncEngine]
) -> None:
    stream = _stream(seed, datetime.fromisoformat("2026-01-05T08:00:00+00:00"))
    one_at_a_time, at_once = databases
    await _handle(one_at_a_time, [[event] for event in stream])
    await _handle(at_once, [stream[i : i + 97] for i in range(0, len(stream), 97)])
    expected = await _outcome(one_at_a_time)
    assert {f[0] for f in expected["flags"]} >= {
        "MISSING_RECORD", "LATE_RECORD", "UNDER_COUNT", "UNJUSTIFIED_NON_CRIME", "RAPE_WITHOUT_N100",
        "CANCELLATION_WRONG_AUTHORITY", "HIGH_RISK_CANCELLATION", "DOWNGRADE", "CANCELLATION_VICTIM_NOT_TOLD",
    }  # fmt: skip
    # Swept at the deadline (the contacts never recorded), and raised then cured (the late ones).
    assert {("MISSING_RECORD", "open"), ("MISSING_RECORD", "cured")} <= {(f[0], f[10]) for f in expected["flags"]}
    got = await _outcome(at_once)
    assert got == expected
    # The shares of the recording rate kept through reports, records, cancellations, reclassifications and the
    # deadline sweep are those the contacts' final state gives.
    assert expected["units"] == await _units_from_scratch(one_at_a_time)


@pytest.mark.parametrize(
    ("query", "index"),
    [(repository.contacts_due_query, "auditor_contacts_due"), (repository.removals_due_query, "auditor_removals_due")],
)
async def test_the_sweeps_can_use_their_partial_indexes(
    query: Any, index: str, databases: tuple[AsyncEngine, AsyncEngine]
) -> None:
    # Every run of a replay sweeps: without its index each sweep reads every contact (it made a 100,000-contact
    # replay four times slower by its end). With sequential scans ruled out, the plan shows whether the index fits.
    statement = query(now=datetime.fromisoformat("2026-01-05T08:00:00+00:00"))
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with databases[0].begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {sql}")))
    assert index in plan, plan


async def test_a_flag_raised_meanwhile_by_another_consumer_is_cured_by_our_later_step(
    databases: tuple[AsyncEngine, AsyncEngine],
) -> None:
    # Two auditor consumers (a contact's report and its records are on different topics) raise the same flag at
    # once; the second's insert waits for the first to commit, finds the flag there, and must still cure it.
    factory = create_session_factory(databases[0])
    at = datetime.fromisoformat("2026-01-05T08:00:00+00:00")
    contact_id = uuid.uuid4()
    draft = FlagDraft(rule=Rule.MISSING_RECORD, severity=Severity.HIGH, subject=str(contact_id), explanation="late")
    cause = envelope_for(
        recorded(contact_id, crn_for(contact_id), received_at=at, at=at + 30 * HOUR),
        producer="legacy-records", correlation_id=contact_id, occurred_at=at + 30 * HOUR,
    )  # fmt: skip
    async with unit_of_work(factory, outbox) as first:
        await raise_flags(first, [draft], force=FORCE, contact_id=contact_id, at=at + 24 * HOUR)

        async def second() -> None:
            async with unit_of_work(factory, outbox) as uow:
                ledger = FlagLedger()
                ledger.raise_([draft], force=FORCE, contact_id=contact_id, at=at + 24 * HOUR)
                ledger.cure(Rule.MISSING_RECORD, str(contact_id), cause, "recorded after the deadline")
                assert await ledger.write(uow) == []  # not ours: raised by the first

        racing = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not racing.done()  # waiting on the first's insert
    await racing
    async with databases[0].connect() as conn:
        flag = (await conn.execute(text("SELECT * FROM auditor.flags"))).mappings().one()
        history = (await conn.execute(text("SELECT status FROM auditor.flag_history ORDER BY id"))).scalars().all()
        alerts = (await conn.execute(text("SELECT body FROM auditor.alert_stream ORDER BY seq"))).scalars().all()
    assert flag["status"] == "cured" and flag["cured_by"]["event_id"] == str(cause.event_id)
    assert history == ["open", "cured"]
    assert [a["event"] for a in alerts] == ["flag.raised", "flag.updated"]
