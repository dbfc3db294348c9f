"""The auditor's narrative-screening flags (issue 18) on a private event-time auditor fed hand-made events: a positive
screen nobody reviews by its deadline is HIDDEN_CRIME_UNREVIEWED the moment event time passes it, a late review
cures it and the crime it records late is LATE_RECORD; the recording rate counts unreviewed screens apart."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from schemas.events import ContactDecided, ContactScreened, Outcome, ReviewAction, ScreeningReviewed
from schemas.screening import OffenceFamily, ScreeningMode, ScreeningResult
from services.auditor.screening_repository import screens_due_query
from services.runtime.settings import EngineSettings
from tests.auditor.test_flag_clock import (
    DAY,
    DDM,
    FORCE,
    HOUR,
    PrivateAuditor,
    Timeline,
    crn_for,
    private_auditor,
    received,
    recorded,
)
from tests.conftest import Server

WELFARE = {"category": "public_safety", "opening_code": None, "qualifiers": []}


@pytest.fixture(scope="module")
async def auditor(pg_server: Server, engines: EngineSettings) -> AsyncIterator[tuple[PrivateAuditor, Timeline]]:
    async with private_auditor(pg_server, engines, clock="event_time") as running:
        yield running, Timeline()


def closed(contact_id: UUID, at: datetime) -> ContactDecided:
    return ContactDecided(
        contact_id=contact_id, force=FORCE, outcome=Outcome.NON_CRIME, crime_references=[],
        rationale="Closed as concern for welfare.", rules_version="legacy-1", decided_at=at,
        recording_deadline=at + 24 * HOUR, received_at=at, decided_by=None,
    )  # fmt: skip


def screened(contact_id: UUID, at: datetime, *, positive: bool, families: list[OffenceFamily]) -> ContactScreened:
    return ContactScreened(
        contact_id=contact_id, force=FORCE, outcome=Outcome.NON_CRIME, received_at=at, screened_at=at,
        review_deadline=at + 24 * HOUR, screened=True,
        result=ScreeningResult(
            score=0.9 if positive else 0.1, positive=positive, families=families, evidence=["violence: 'punched'"],
            rules_score=0.9 if positive else 0.0, model_score=None, screener_version="rules-test",
            mode=ScreeningMode.RULES_ONLY, truncated=False,
        ),
    )  # fmt: skip


def review(contact_id: UUID, received_at: datetime, at: datetime, crns: list[str]) -> ScreeningReviewed:
    return ScreeningReviewed(
        contact_id=contact_id, force=FORCE, action=ReviewAction.RECORD if crns else ReviewAction.CONFIRM_NON_CRIME,
        rationale="Read the narrative.", crime_references=crns, families=[OffenceFamily.VIOLENCE],
        received_at=received_at, review_deadline=received_at + 24 * HOUR, reviewed_at=at, reviewed_by=DDM,
    )  # fmt: skip


async def send_contact(auditor: PrivateAuditor, contact_id: UUID, at: datetime, **screen: object) -> None:
    await auditor.send(received(contact_id, at, incident=WELFARE, offences=[]), at=at)
    await auditor.send(closed(contact_id, at), at=at)
    await auditor.send(screened(contact_id, at, **screen), at=at)  # type: ignore[arg-type]


async def test_unreviewed_positive_screens_are_flagged_at_their_deadline_and_late_reviews_cure_them(
    auditor: tuple[PrivateAuditor, Timeline],
) -> None:
    running, timeline = auditor
    t = timeline.base()
    never, on_time, late, negative = (uuid.uuid4() for _ in range(4))
    await send_contact(running, never, t, positive=True, families=[OffenceFamily.DOMESTIC_ABUSE])
    await send_contact(running, on_time, t, positive=True, families=[OffenceFamily.THEFT_ROBBERY])
    await send_contact(running, late, t, positive=True, families=[OffenceFamily.VIOLENCE])
    await send_contact(running, negative, t, positive=False, families=[])
    await running.send(review(on_time, t, t + 5 * HOUR, []), at=t + 5 * HOUR)
    await running.consumed()
    for contact_id in (never, on_time, late, negative):
        assert await running.flags(contact_id) == []  # the deadline is hours of event time away

    # A later contact moves event time past the deadline: the unreviewed screens are now known.
    await running.send(received(uuid.uuid4(), t + 25 * HOUR), at=t + 25 * HOUR)
    flag = await running.one_flag(never, "HIDDEN_CRIME_UNREVIEWED")
    assert flag["status"] == "open" and flag["severity"] == "high"
    assert datetime.fromisoformat(flag["raised_at"]) == t + 24 * HOUR  # at the deadline, not when swept
    assert (
        flag["evidence"]["families"] == ["domestic_abuse"] and flag["evidence"]["first_contact_outcome"] == "non_crime"
    )
    pending = await running.one_flag(late, "HIDDEN_CRIME_UNREVIEWED")
    assert pending["status"] == "open" and pending["severity"] == "high"
    assert await running.flags(on_time) == [] and await running.flags(negative) == []

    # The late review records the crime by the normal path (crime.recorded, then screening.reviewed): it cures
    # the flag, and the crime is late.
    crn = crn_for(late)
    await running.send(recorded(late, crn, received_at=t, at=t + 30 * HOUR), at=t + 30 * HOUR)
    reviewed = await running.send(review(late, t, t + 30 * HOUR, [crn]), at=t + 30 * HOUR)
    await running.consumed()
    detail = await running.flag_detail(pending["flag_id"])
    assert detail["status"] == "cured" and detail["cured_by"]["event_id"] == str(reviewed.event_id)
    assert "recorded " + crn in detail["cured_by"]["why"]
    late_record = await running.one_flag(late, "LATE_RECORD")
    assert late_record["crime_reference"] == crn and "6.0 hours" in late_record["explanation"]
    assert {f["rule"] for f in await running.flags(late)} == {"HIDDEN_CRIME_UNREVIEWED", "LATE_RECORD"}

    # The recording rate: the late crime recorded (1 of 1), and one violence screen nobody has reviewed.
    query = urllib.parse.urlencode({"from": t.isoformat(), "to": (t + HOUR).isoformat()})
    stats = (await running.client.get(f"/v1/stats/recording?{query}", headers=running.headers)).json()
    overall, violence = stats["recording_rate"]["overall"], stats["recording_rate"]["violence"]
    assert (overall["numerator"], overall["denominator"], overall["undecided_screened_positive"]) == (1, 1, 1)
    assert overall["rate"] == 1.0 and overall["rate_if_undecided_are_crimes"] == 0.5
    assert overall["ci_low"] < overall["decided_ci_low"] and overall["ci_high"] == 1.0
    assert (
        violence["undecided_screened_positive"] == 1
        and stats["recording_rate"]["rape"]["undecided_screened_positive"] == 0
    )


async def test_a_late_review_read_before_event_time_passes_the_deadline_gives_the_same_flag(
    auditor: tuple[PrivateAuditor, Timeline],
) -> None:
    # Replayed, the late review can be read before the watermark reaches the deadline: the flag is the same, cured.
    running, timeline = auditor
    t = timeline.base()
    late = uuid.uuid4()
    await send_contact(running, late, t, positive=True, families=[OffenceFamily.FRAUD])
    reviewed = await running.send(review(late, t, t + 26 * HOUR, []), at=t + 26 * HOUR)
    flag = await running.one_flag(late, "HIDDEN_CRIME_UNREVIEWED")
    assert flag["severity"] == "medium" and datetime.fromisoformat(flag["raised_at"]) == t + 24 * HOUR
    detail = await running.flag_detail(flag["flag_id"])
    assert detail["status"] == "cured" and detail["cured_by"]["event_id"] == str(reviewed.event_id)
    assert "confirmed non-crime" in detail["cured_by"]["why"]
    await running.send(received(uuid.uuid4(), t + 3 * DAY), at=t + 3 * DAY)  # the sweep passes the deadline
    await running.consumed()
    assert [(f["flag_id"], f["status"]) for f in await running.flags(late)] == [(flag["flag_id"], "cured")]


async def test_the_screening_sweep_can_use_its_partial_index(auditor: tuple[PrivateAuditor, Timeline]) -> None:
    # Every run of a replay sweeps: without its index each sweep would read every screen ever stored.
    running, _ = auditor
    statement = screens_due_query(now=datetime.fromisoformat("2026-01-05T08:00:00+00:00"))
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with running.db.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {sql}")))
    assert "auditor_screenings_due" in plan, plan
