"""The auditor's clocks, on a private auditor fed hand-made events (as a legacy records system would send them).

Each private auditor has its own database (the auditor's tables are shared by every instance on one database) and
its own topic prefix. In `event_time` mode deadlines fire when the event-time watermark passes them, so a replayed
stream gives the flags live running gave; in `live` mode the wall clock fires them even when no events arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crimerec import stack
from schemas import topics
from schemas.catalogue import AuditCategory, OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import (
    Actor,
    AuthorityMode,
    CancellationCode,
    CancellationGrounds,
    ContactDecided,
    ContactReceived,
    CrimeCancelled,
    CrimeRecorded,
    EventPayload,
    Outcome,
    Role,
    VerifiableInformation,
    VictimNotified,
    envelope_for,
)
from services.auditor import service
from services.auditor.app import create_app
from services.auditor.models import outbox as auditor_outbox
from services.auditor.rules.policy import AuditPolicy
from services.auditor.rules.standard import Standard
from services.auditor.settings import AuditorSettings
from services.runtime.database import create_engine, create_session_factory
from services.runtime.messaging import encode_event, event_headers, unit_of_work
from services.runtime.producer import ensure_topics
from services.runtime.settings import EngineSettings
from tests.conftest import Server, create_database, drop_database
from tests.support import contact, eventually

FORCE = "GMP"
CATALOGUE = OffenceCatalogue.default()
CALL_HANDLER = Actor(principal="legacy-call-handler", roles=[Role.CALL_HANDLER], force=FORCE)
OFFICER = Actor(principal="legacy-officer", roles=[Role.OFFICER], force=FORCE)
DDM = Actor(principal="legacy-ddm", roles=[Role.DDM], force=FORCE)
FCR = Actor(principal="legacy-fcr", roles=[Role.FCR], force=FORCE)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


# ------------------------------------------------------------------------------------------------------ events


def received(contact_id: UUID, at: datetime, **changes: Any) -> ContactReceived:
    """contact.received for a contact received at `at` (one identified victim, 8N unless changed)."""
    body = contact(
        received_at=at.isoformat(),
        occurred_from=(at - HOUR).isoformat(),
        occurred_to=(at - HOUR / 2).isoformat(),
        **changes,
    )
    return ContactReceived(
        contact_id=contact_id,
        force=FORCE,
        received_at=at,
        submitted_by=CALL_HANDLER,
        contact=ContactCreate.model_validate(body),
    )


def recorded(
    contact_id: UUID,
    crn: str,
    *,
    received_at: datetime,
    at: datetime,
    ho_class: str = "8N",
    deadline: datetime | None = None,
) -> CrimeRecorded:
    """crime.recorded: one crime recorded at `at` for a contact received at `received_at`."""
    known = CATALOGUE.get(ho_class)
    assert known is not None
    return CrimeRecorded(
        contact_id=contact_id,
        crime_reference=crn,
        force=FORCE,
        victim_ref="V1",
        ho_class=ho_class,
        offence_group=known.group,
        audit_category=known.audit_category,
        received_at=received_at,
        recorded_at=at,
        recording_deadline=deadline or received_at + 24 * HOUR,
        rules_version="legacy-1",
        recorded_by=OFFICER,
    )


def decided(contact_id: UUID, crns: list[str], *, received_at: datetime, at: datetime) -> ContactDecided:
    """contact.decided: recorded as the crimes named."""
    return ContactDecided(
        contact_id=contact_id,
        force=FORCE,
        outcome=Outcome.RECORDED,
        crime_references=crns,
        rationale="Recorded on the victim's account.",
        rules_version="legacy-1",
        decided_at=at,
        recording_deadline=received_at + 24 * HOUR,
        received_at=received_at,
        decided_by=OFFICER,
    )


def cancelled(
    contact_id: UUID,
    crn: str,
    *,
    at: datetime,
    ho_class: str = "8N",
    authorised_by: Actor = DDM,
    victim_informed_at: datetime | None = None,
) -> CrimeCancelled:
    """crime.cancelled under C2 with AVI, asked by an officer and authorised as given."""
    known = CATALOGUE.get(ho_class)
    assert known is not None
    return CrimeCancelled(
        contact_id=contact_id,
        request_id=uuid.uuid4(),
        crime_reference=crn,
        force=FORCE,
        ho_class=ho_class,
        audit_category=known.audit_category,
        grounds=CancellationGrounds(
            code=CancellationCode.C2,
            explanation="CCTV shows no offence took place.",
            avi=VerifiableInformation(description="CCTV of the whole incident", held_at="CCTV ref MCR-7781"),
        ),
        requested_by=OFFICER,
        requested_at=at - HOUR,
        authorised_by=authorised_by,
        authorised_at=at,
        authority_required=[Role.FCR] if known.audit_category is AuditCategory.RAPE else [Role.DDM, Role.FCR],
        authority_mode=AuthorityMode.ENFORCE,
        victim_informed=victim_informed_at is not None,
        victim_informed_at=victim_informed_at,
    )


def crn_for(contact_id: UUID) -> str:
    return f"GMP-2025-{contact_id.int % 10**9:09d}"


# ------------------------------------------------------------------------------------------------------ private auditor


@dataclass
class PrivateAuditor:
    """An auditor app on its own database and topics, a producer standing in for intake and a records system."""

    engines: EngineSettings
    app: FastAPI
    client: httpx.AsyncClient
    db: AsyncEngine
    producer: AIOKafkaProducer
    headers: dict[str, str]
    sent: list[tuple[TopicPartition, int]] = field(default_factory=list)

    async def send(self, payload: EventPayload, *, at: datetime) -> Envelope:
        """Publishes an event that happened at `at` on its topic, keyed by its contact."""
        envelope = envelope_for(payload, producer="legacy-records", correlation_id=payload.contact_id, occurred_at=at)
        await self.resend(envelope)
        return envelope

    async def resend(self, envelope: Envelope) -> None:
        """Publishes an envelope again, as it was (same event id)."""
        topic = topics.CONTACTS if envelope.event_type == ContactReceived.EVENT_TYPE else topics.RECORDS
        metadata = await self.producer.send_and_wait(
            self.engines.topic(topic),
            encode_event(envelope),
            key=str(envelope.contact_id).encode(),
            headers=event_headers(envelope),
        )
        self.sent.append((TopicPartition(metadata.topic, metadata.partition), metadata.offset))

    async def consumed(self) -> None:
        """Waits until the auditor has committed (so handled) every event sent so far."""
        wanted: dict[TopicPartition, int] = {}
        for tp, offset in self.sent:
            wanted[tp] = max(wanted.get(tp, 0), offset + 1)
        group = self.engines.topic_prefix + "auditor.projection"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.engines.kafka_bootstrap)
        await admin.start()
        try:

            async def caught_up() -> bool:
                committed = await admin.list_consumer_group_offsets(group, partitions=list(wanted))
                for tp, offset in wanted.items():
                    at = committed.get(tp)
                    assert at is not None and at.offset >= offset, (tp, at, offset)
                return True

            await eventually(caught_up, within=30, interval=0.1)
        finally:
            await admin.close()

    async def flags(self, contact_id: UUID, rule: str | None = None) -> list[dict[str, Any]]:
        params = {"contact_id": str(contact_id), "limit": "500"} | ({"rule": rule} if rule else {})
        response = await self.client.get("/v1/flags", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def flag_detail(self, flag_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/v1/flags/{flag_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def one_flag(self, contact_id: UUID, rule: str) -> dict[str, Any]:
        """Waits for the one flag of a rule on a contact."""

        async def raised() -> dict[str, Any] | None:
            found = await self.flags(contact_id, rule)
            assert len(found) <= 1, found
            return found[0] if found else None

        return await eventually(raised, within=30)

    async def snapshot(self) -> dict[str, Any]:
        """Everything a replay must leave as it was: flags, their history, the alert stream and the outbox."""
        async with self.db.connect() as conn:
            flags = (await conn.execute(text("SELECT * FROM auditor.flags ORDER BY flag_id"))).mappings().all()
            history = (await conn.execute(text("SELECT * FROM auditor.flag_history ORDER BY id"))).mappings().all()
            alerts = await conn.scalar(text("SELECT count(*) FROM auditor.alert_stream"))
            outbox = await conn.scalar(text("SELECT count(*) FROM auditor.outbox"))
        return {
            "flags": [dict(f) for f in flags],
            "history": [dict(h) for h in history],
            "alerts": alerts,
            "outbox": outbox,
        }


@contextlib.asynccontextmanager
async def private_auditor(pg_server: Server, engines: EngineSettings, *, clock: str) -> AsyncIterator[PrivateAuditor]:
    """A running auditor on a fresh database and topic prefix; dropped afterwards."""
    url = create_database(pg_server, prefix="crimerec_auditor_clock")
    try:
        await asyncio.to_thread(stack.migrate_all, url)
        settings = engines.model_copy(
            update={
                "database_url": SecretStr(url),
                "topic_prefix": f"x{uuid.uuid4().hex[:6]}.",
                "database_pool_size": 3,
            }
        )
        await ensure_topics(settings, partitions=2)
        key = (await stack.issue_keys(settings, force=FORCE, roles=[Role.AUDITOR], label="clock-tests"))["auditor"]
        app = create_app(AuditorSettings(engines=settings, clock=clock, sweep_seconds=0.2))
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=settings.kafka_enable_idempotence
        )
        db = create_engine(settings)
        async with contextlib.AsyncExitStack() as exit_stack:
            await producer.start()
            exit_stack.push_async_callback(producer.stop)
            exit_stack.push_async_callback(db.dispose)
            await exit_stack.enter_async_context(app.router.lifespan_context(app))
            client = await exit_stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auditor")
            )
            yield PrivateAuditor(settings, app, client, db, producer, {"Authorization": f"Bearer {key}"})
    finally:
        drop_database(pg_server, url)


class Timeline:
    """Event times for the scenarios of one event-time auditor: each scenario starts after everything before it,
    in the past (the watermark only moves forward, and every scenario must be later than the one before)."""

    def __init__(self) -> None:
        self.next = datetime.now(UTC).replace(microsecond=0) - 200 * DAY

    def base(self) -> datetime:
        start = self.next
        self.next += 20 * DAY
        return start


@pytest.fixture(scope="module")
async def event_time(pg_server: Server, engines: EngineSettings) -> AsyncIterator[tuple[PrivateAuditor, Timeline]]:
    async with private_auditor(pg_server, engines, clock="event_time") as auditor:
        yield auditor, Timeline()


# ------------------------------------------------------------------------------------------------------ event time


async def test_missing_record_fires_at_the_event_time_deadline_and_is_cured_by_the_late_record(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    first, later = uuid.uuid4(), uuid.uuid4()
    crn = crn_for(first)

    first_received = await auditor.send(received(first, t), at=t)
    await auditor.consumed()
    assert await auditor.flags(first) == []  # its deadline is a day of event time away

    # A later contact moves the watermark past the first one's deadline: the missing record is now known.
    later_received = await auditor.send(received(later, t + 25 * HOUR), at=t + 25 * HOUR)
    missing = await auditor.one_flag(first, "MISSING_RECORD")
    assert missing["status"] == "open"
    assert datetime.fromisoformat(missing["raised_at"]) == t + 24 * HOUR  # at its deadline, not when swept
    assert missing["severity"] == "high" and missing["force"] == FORCE and missing["crime_reference"] is None
    assert missing["evidence"]["recording_deadline"] == (t + 24 * HOUR).isoformat()
    assert missing["evidence"]["decision"] == "no decision" and missing["evidence"]["reported_classes"] == ["8N"]
    assert await auditor.flags(later) == []

    # The record arrives two hours late: the missing record is cured by it, and it is late.
    late = await auditor.send(recorded(first, crn, received_at=t, at=t + 26 * HOUR), at=t + 26 * HOUR)
    await auditor.consumed()
    detail = await auditor.flag_detail(missing["flag_id"])
    assert detail["status"] == "cured"
    assert detail["cured_by"] == {
        "event_id": str(late.event_id),
        "event_type": "crime.recorded",
        "why": f"{crn} was recorded",
    }
    assert [(h["status"], h["by"]) for h in detail["history"]] == [("open", None), ("cured", None)]
    late_flag = await auditor.one_flag(first, "LATE_RECORD")
    assert late_flag["crime_reference"] == crn and late_flag["status"] == "open"
    assert datetime.fromisoformat(late_flag["raised_at"]) == t + 26 * HOUR
    assert "2.0 hours" in late_flag["explanation"]
    assert {f["rule"] for f in await auditor.flags(first)} == {"MISSING_RECORD", "LATE_RECORD"}

    # Replaying the same events (same event ids) changes nothing.
    before = await auditor.snapshot()
    for envelope in (first_received, later_received, late):
        await auditor.resend(envelope)
    await auditor.consumed()
    assert await auditor.snapshot() == before

    # Nor does a replay into an auditor that has forgotten what it handled: each flag is raised once.
    async with auditor.db.begin() as conn:
        await conn.execute(text("DELETE FROM auditor.inbox"))
    for envelope in (first_received, later_received, late):
        await auditor.resend(envelope)
    await auditor.consumed()
    assert await auditor.snapshot() == before


async def test_victim_not_told_fires_when_event_time_passes_the_notice_limit(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    victim, told, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for contact_id in (victim, told):
        crn = crn_for(contact_id)
        await auditor.send(received(contact_id, t), at=t)
        await auditor.send(recorded(contact_id, crn, received_at=t, at=t + HOUR), at=t + HOUR)
        await auditor.send(decided(contact_id, [crn], received_at=t, at=t + HOUR), at=t + HOUR)
    await auditor.send(cancelled(victim, crn_for(victim), at=t + DAY), at=t + DAY)
    await auditor.send(cancelled(told, crn_for(told), at=t + DAY), at=t + DAY)
    await auditor.consumed()
    assert await auditor.flags(victim, "CANCELLATION_VICTIM_NOT_TOLD") == []

    # Eight days of event time later, on both topics: one victim was never told, the other was on day 3.
    notified = VictimNotified(
        contact_id=told, crime_reference=crn_for(told), force=FORCE, about=CancellationCode.C2,
        notified_at=t + 3 * DAY, method="phone", notified_by=OFFICER,
    )  # fmt: skip
    await auditor.send(notified, at=t + 3 * DAY)
    await auditor.send(received(later, t + 9 * DAY), at=t + 9 * DAY)
    await auditor.send(recorded(later, crn_for(later), received_at=t + 9 * DAY, at=t + 9 * DAY), at=t + 9 * DAY)
    flag = await auditor.one_flag(victim, "CANCELLATION_VICTIM_NOT_TOLD")
    assert flag["crime_reference"] == crn_for(victim) and flag["severity"] == "medium"
    assert datetime.fromisoformat(flag["raised_at"]) == t + 8 * DAY  # the notice limit, in event time
    assert flag["evidence"]["due"] == (t + 8 * DAY).isoformat()
    assert flag["evidence"]["removed_at"] == (t + DAY).isoformat()
    await _swept_removals(auditor, [told])
    assert await auditor.flags(told, "CANCELLATION_VICTIM_NOT_TOLD") == []


async def _swept_removals(auditor: PrivateAuditor, contacts: Sequence[UUID]) -> None:
    """Waits until the sweeper has judged the victim-notice limit of every removal of these contacts."""

    async def checked() -> bool:
        async with auditor.db.connect() as conn:
            pending = await conn.scalar(
                text("SELECT count(*) FROM auditor.removals WHERE contact_id = ANY(:ids) AND NOT notice_checked"),
                {"ids": list(contacts)},
            )
            total = await conn.scalar(
                text("SELECT count(*) FROM auditor.removals WHERE contact_id = ANY(:ids)"), {"ids": list(contacts)}
            )
        assert total and pending == 0, (total, pending)
        return True

    await eventually(checked, within=30)


async def test_a_victim_told_when_the_cancellation_was_asked_is_not_flagged(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    victim, later = uuid.uuid4(), uuid.uuid4()
    crn = crn_for(victim)
    await auditor.send(received(victim, t), at=t)
    await auditor.send(recorded(victim, crn, received_at=t, at=t + HOUR), at=t + HOUR)
    await auditor.send(decided(victim, [crn], received_at=t, at=t + HOUR), at=t + HOUR)
    # The officer told the victim before asking; the request (and the cancellation event) says so, with the time.
    await auditor.send(cancelled(victim, crn, at=t + DAY, victim_informed_at=t + DAY - 2 * HOUR), at=t + DAY)
    await auditor.send(received(later, t + 9 * DAY), at=t + 9 * DAY)
    await auditor.send(recorded(later, crn_for(later), received_at=t + 9 * DAY, at=t + 9 * DAY), at=t + 9 * DAY)
    await auditor.consumed()
    await _swept_removals(auditor, [victim])
    assert await auditor.flags(victim, "CANCELLATION_VICTIM_NOT_TOLD") == []


async def test_rape_flags_do_not_depend_on_which_topic_is_read_first(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    rape = uuid.uuid4()
    crn = crn_for(rape)
    reported = received(rape, t, offences=[{"victim_ref": "V1", "ho_class": "19C", "offender_ref": "S1"}])
    # The records topic is read first: recorded as rape at once, then cancelled on AVI by the FCR.
    await auditor.send(recorded(rape, crn, received_at=t, at=t + HOUR, ho_class="19C"), at=t + HOUR)
    await auditor.send(decided(rape, [crn], received_at=t, at=t + HOUR), at=t + HOUR)
    await auditor.send(cancelled(rape, crn, at=t + 2 * DAY, ho_class="19C", authorised_by=FCR), at=t + 2 * DAY)
    await auditor.consumed()
    await auditor.send(reported, at=t)
    await auditor.consumed()
    assert {f["rule"] for f in await auditor.flags(rape)} == {"HIGH_RISK_CANCELLATION"}


async def test_a_fast_replay_gives_the_missing_record_live_running_gave(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    first, later = uuid.uuid4(), uuid.uuid4()
    crn = crn_for(first)
    events = [
        (received(first, t), t),
        (received(later, t + 25 * HOUR), t + 25 * HOUR),
        (recorded(first, crn, received_at=t, at=t + 26 * HOUR), t + 26 * HOUR),
    ]
    # The consumer handles a run of events in one transaction; the sweeper runs when it next ticks. Here the three
    # events are handled together, as a replay at full speed does, and then the sweeper ticks.
    sessions = create_session_factory(auditor.db)
    standard = Standard(catalogue=CATALOGUE, policy=AuditPolicy(), event_time=True)
    async with unit_of_work(sessions, auditor_outbox, auditor.engines.topic_prefix) as uow:
        # One ordered stream, as a single partition hands it over: the watermark is the event in hand's own time.
        uow.watermark = lambda event_time: event_time
        for payload, at in events:
            envelope = envelope_for(
                payload, producer="legacy-records", correlation_id=payload.contact_id, occurred_at=at
            )
            await service.on_event(uow, envelope, payload, standard=standard)

    async def swept() -> bool:
        async with auditor.db.connect() as conn:
            assert await conn.scalar(
                text("SELECT deadline_checked FROM auditor.contacts WHERE contact_id = :id"), {"id": first}
            )
        return True

    await eventually(swept, within=30)
    # Live, the wall clock passed the deadline a day before the record came: MISSING_RECORD, then cured by it.
    missing = await auditor.flags(first, "MISSING_RECORD")
    assert [f["status"] for f in missing] == ["cured"]


async def test_a_records_system_that_restarts_the_clock_is_still_found_late(
    event_time: tuple[PrivateAuditor, Timeline],
) -> None:
    auditor, timeline = event_time
    t = timeline.base()
    reset = uuid.uuid4()
    crn = crn_for(reset)
    await auditor.send(received(reset, t), at=t)
    # Recorded 30 hours after the report, with a deadline restarted when it was looked at again (domain.md, Time:
    # the clock starts at receipt and is never reset).
    await auditor.send(recorded(reset, crn, received_at=t, at=t + 30 * HOUR, deadline=t + 48 * HOUR), at=t + 30 * HOUR)
    await auditor.send(decided(reset, [crn], received_at=t, at=t + 30 * HOUR), at=t + 30 * HOUR)
    await auditor.consumed()
    view = (await auditor.client.get(f"/v1/contacts/{reset}", headers=auditor.headers)).json()
    assert datetime.fromisoformat(view["recording_deadline"]) == t + 24 * HOUR  # the auditor knows the real one
    assert [f["rule"] for f in await auditor.flags(reset, "LATE_RECORD")] == ["LATE_RECORD"]


# ------------------------------------------------------------------------------------------------------ live


async def test_live_missing_record_fires_by_the_wall_clock_with_no_further_events(
    pg_server: Server, engines: EngineSettings
) -> None:
    async with private_auditor(pg_server, engines, clock="live") as auditor:
        now = datetime.now(UTC).replace(microsecond=0)
        overdue, soon = uuid.uuid4(), uuid.uuid4()
        # Both events carry their old event time: only the wall clock can pass these deadlines.
        await auditor.send(received(overdue, now - 25 * HOUR), at=now - 25 * HOUR)
        soon_received = now - 24 * HOUR + timedelta(seconds=4)
        await auditor.send(received(soon, soon_received), at=soon_received)
        await auditor.consumed()
        if await auditor.flags(soon):  # only once its deadline has passed
            assert datetime.now(UTC) >= soon_received + 24 * HOUR

        missing = await auditor.one_flag(overdue, "MISSING_RECORD")
        assert datetime.fromisoformat(missing["raised_at"]) == now - HOUR  # its deadline
        assert missing["status"] == "open" and missing["evidence"]["decision"] == "no decision"
        # No event arrives after this one's deadline; the wall clock alone fires it.
        due = await auditor.one_flag(soon, "MISSING_RECORD")
        assert datetime.fromisoformat(due["raised_at"]) == soon_received + 24 * HOUR
