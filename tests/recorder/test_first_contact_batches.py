"""Runs of contacts decided at once by two recorders at the same time (as two processes of one consumer group):
crime references are numbered without gaps across both, and every row and event carries its crime's own number."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for
from services.recorder import service
from services.recorder.models import crime_history, crime_reference_counters, crimes, outbox
from services.recorder.rules.authority import AuthorityPolicy
from services.runtime import clock
from services.runtime.database import create_session_factory
from services.runtime.messaging import unit_of_work
from tests.support import contact

FORCE = "DYP"  # a force no other test records for, so the counter is this test's alone
POLICY = service.RecorderPolicy(
    catalogue=OffenceCatalogue.default(), limit=timedelta(hours=24), authority=AuthorityPolicy(), force_authority={}
)


def received(i: int) -> tuple[Envelope, ContactReceived]:
    """A contact.received of one of four shapes: no crime, one crime, two victims, or one crime in another area."""
    victims = [{"ref": f"V{v}", "kind": "person", "name": f"Victim {v}", "identified": True, "confirmed": True}
               for v in (1, 2)]  # fmt: skip
    shapes: list[dict[str, Any]] = [
        {"offences": [], "incident": {"category": "asb", "opening_code": None, "qualifiers": []}},
        {},
        {"victims": victims, "offences": [{"victim_ref": v["ref"], "ho_class": "105A"} for v in victims]},
        {"location": {"description": None, "postcode": None, "force_area": "CUM"}},
    ]
    body = contact(**shapes[i % 4])
    body["force"] = FORCE
    body["location"] = body["location"] | {"force_area": body["location"]["force_area"].replace("GMP", FORCE)}
    payload = ContactReceived(
        contact_id=uuid.uuid4(),
        force=FORCE,
        received_at=body["received_at"],
        submitted_by=Actor(principal="tests", roles=[Role.CALL_HANDLER], force=FORCE),
        contact=ContactCreate.model_validate(body),
    )
    return envelope_for(payload, producer="intake", correlation_id=payload.contact_id), payload


async def test_two_concurrent_runs_number_their_crimes_without_gaps_and_every_event_carries_the_crimes_number(
    db: AsyncEngine,
) -> None:
    sessions = create_session_factory(db)
    year = clock.now().year
    async with db.connect() as conn:
        before = await conn.scalar(
            select(crime_reference_counters.c.last_number).where(
                crime_reference_counters.c.force == FORCE, crime_reference_counters.c.year == year
            )
        )
    runs = [[received(i) for i in range(start, start + 24)] for start in (0, 24)]

    async def decide(run: list[tuple[Envelope, ContactReceived]]) -> None:
        async with unit_of_work(sessions, outbox) as uow:
            await service.record_contacts(uow, run, policy=POLICY)

    await asyncio.gather(*(decide(run) for run in runs))

    contact_ids = [p.contact_id for run in runs for _, p in run]
    async with db.connect() as conn:
        rows = (await conn.execute(select(crimes).where(crimes.c.contact_id.in_(contact_ids)))).all()
        history = (
            await conn.execute(
                select(crime_history.c.crime_reference, crime_history.c.event_type).where(
                    crime_history.c.crime_reference.in_([r.crime_reference for r in rows])
                )
            )
        ).all()
        values = (
            await conn.scalars(select(outbox.c.value).where(outbox.c.key.in_([str(c) for c in contact_ids])))
        ).all()
    events = [Envelope.model_validate_json(v) for v in values]

    # 12 contacts with one crime, 12 with one each for two victims, 12 transferred with theirs, 12 with none.
    first = (before or 0) + 1
    assert sorted(r.crime_reference for r in rows) == [f"{FORCE}-{year}-{n:06d}" for n in range(first, first + 48)]
    by_contact: dict[uuid.UUID, list[str]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.crime_reference):
        by_contact[row.contact_id].append(row.crime_reference)

    decided = {e.contact_id: e.payload for e in events if e.event_type == "contact.decided"}
    assert set(decided) == set(contact_ids)
    for contact_id, payload in decided.items():
        assert sorted(payload["crime_references"]) == by_contact.get(contact_id, [])
    recorded = [e.payload for e in events if e.event_type == "crime.recorded"]
    stored = {r.crime_reference: r for r in rows}
    assert sorted(p["crime_reference"] for p in recorded) == sorted(stored)
    for p in recorded:
        row = stored[p["crime_reference"]]
        assert (p["contact_id"], p["victim_ref"], p["ho_class"]) == (str(row.contact_id), row.victim_ref, row.ho_class)
    transferred = sorted(e.payload["crime_reference"] for e in events if e.event_type == "crime.transferred")
    assert transferred == sorted(r.crime_reference for r in rows if r.transfer_to == "CUM")
    assert len(transferred) == 12
    assert sorted((ref, kind) for ref, kind in history) == sorted(
        [(ref, "crime.recorded") for ref in stored] + [(ref, "crime.transferred") for ref in transferred]
    )
