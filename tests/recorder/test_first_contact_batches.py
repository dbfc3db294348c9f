"""Runs of contacts decided at once by two recorders at the same time (as two processes of one consumer group):
crime references are numbered without gaps across both, and every row and event carries its crime's own number."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for
from services.recorder import first_contact, repository
from services.recorder.models import crime_history, crime_reference_counters, crimes, outbox
from services.recorder.recording import RecorderPolicy
from services.recorder.rules.authority import AuthorityPolicy
from services.recorder.screening_model import load_screener
from services.runtime import clock
from services.runtime.database import create_session_factory
from services.runtime.messaging import unit_of_work
from tests.support import contact

FORCES = ("DYP", "NWP")  # forces no other test records for, so their counters are this test's alone
POLICY = RecorderPolicy(
    catalogue=OffenceCatalogue.default(), limit=timedelta(hours=24), authority=AuthorityPolicy(), force_authority={}
)
VICTIMS = [{"ref": f"V{v}", "kind": "person", "name": f"Victim {v}", "identified": True, "confirmed": True}
           for v in (1, 2)]  # fmt: skip
SHAPES: list[tuple[int, dict[str, Any]]] = [  # (crimes recorded, changes to the usual contact)
    (0, {"offences": [], "incident": {"category": "asb", "opening_code": None, "qualifiers": []}}),
    (1, {}),
    (2, {"victims": VICTIMS, "offences": [{"victim_ref": v["ref"], "ho_class": "105A"} for v in VICTIMS]}),
    (1, {"location": {"description": None, "postcode": None, "force_area": "CUM"}}),  # recorded, transferred
    (
        0,
        {  # a third party's report of a rape, unconfirmed: pending, with an N100
            "reporter": {"relationship": "third_party", "name": "a friend", "phone": None, "email": None},
            "victims": [VICTIMS[0] | {"confirmed": False}],
            "offences": [{"victim_ref": "V1", "ho_class": "19C"}],
        },
    ),
]


def received(i: int, force: str) -> tuple[Envelope, ContactReceived]:
    """A contact.received of the i-th shape, for a force."""
    body = contact(**SHAPES[i % len(SHAPES)][1])
    body["force"] = force
    if body["location"]["force_area"] == "GMP":
        body["location"] = body["location"] | {"force_area": force}
    payload = ContactReceived(
        contact_id=uuid.uuid4(),
        force=force,
        received_at=body["received_at"],
        submitted_by=Actor(principal="tests", roles=[Role.CALL_HANDLER], force=force),
        contact=ContactCreate.model_validate(body),
    )
    return envelope_for(payload, producer="intake", correlation_id=payload.contact_id), payload


async def test_two_concurrent_runs_number_their_crimes_without_gaps_and_every_event_carries_the_crimes_number(
    db: AsyncEngine,
) -> None:
    sessions = create_session_factory(db)
    year = clock.now().year
    async with db.connect() as conn:
        before = dict(
            (
                await conn.execute(
                    select(crime_reference_counters.c.force, crime_reference_counters.c.last_number).where(
                        crime_reference_counters.c.force.in_(FORCES), crime_reference_counters.c.year == year
                    )
                )
            ).all()
        )
    # Each run meets the two forces in the other order, as two recorders reading different partitions would.
    runs = [[received(i, FORCES[(i + r) % 2]) for i in range(30)] for r in (0, 1)]
    expected = {force: 0 for force in FORCES}
    for run in runs:
        for i, (_, p) in enumerate(run):
            expected[p.force] += SHAPES[i % len(SHAPES)][0]

    async def decide(run: list[tuple[Envelope, ContactReceived]]) -> None:
        async with unit_of_work(sessions, outbox) as uow:
            await first_contact.record_contacts(uow, run, policy=POLICY)

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

    for force in FORCES:
        first = before.get(force, 0) + 1
        numbered = sorted(r.crime_reference for r in rows if r.force == force)
        assert numbered == [f"{force}-{year}-{n:06d}" for n in range(first, first + expected[force])]
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
    assert len(transferred) == 12  # one in five contacts
    n100s = [e.payload for e in events if e.event_type == "n100.recorded"]
    assert len(n100s) == 12 and all(p["crime_reference"] is None for p in n100s)
    assert sorted((ref, kind) for ref, kind in history) == sorted(
        [(ref, "crime.recorded") for ref in stored] + [(ref, "crime.transferred") for ref in transferred]
    )


async def test_a_run_takes_the_counters_of_its_forces_in_one_order_whatever_order_it_meets_them_in(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two recorders that lock the same counters in different orders would deadlock each other.
    taken: list[str] = []
    allocate = repository.allocate_crime_references

    async def recording(session: AsyncSession, *, force: str, year: int, count: int) -> list[int]:
        taken.append(force)
        return await allocate(session, force=force, year=year, count=count)

    monkeypatch.setattr(repository, "allocate_crime_references", recording)
    for forces in (FORCES, FORCES[::-1]):
        taken.clear()
        async with unit_of_work(create_session_factory(db), outbox) as uow:
            await first_contact.record_contacts(uow, [received(1, force) for force in forces], policy=POLICY)
        assert taken == sorted(FORCES)


async def test_a_run_numbers_each_contacts_crimes_in_turn_and_stages_its_events_in_order(db: AsyncEngine) -> None:
    # The references are allocated once, after the rules have counted each contact's crimes: the run's contacts
    # take consecutive numbers in turn, and each contact's events come in the order of its life: its crimes (and
    # their transfers), its N100, its decision, then the screening of what was not recorded.
    policy = replace(POLICY, screener=load_screener())
    run = [received(i, FORCES[0]) for i in range(10)]
    async with unit_of_work(create_session_factory(db), outbox) as uow:
        await first_contact.record_contacts(uow, run, policy=policy)
    ids = [str(p.contact_id) for _, p in run]
    async with db.connect() as conn:
        values = (await conn.scalars(select(outbox.c.value).where(outbox.c.key.in_(ids)).order_by(outbox.c.id))).all()
    events = [Envelope.model_validate_json(v) for v in values]
    order = {
        "crime.recorded": 0, "crime.transferred": 0, "n100.recorded": 1, "contact.decided": 2, "contact.screened": 3
    }  # fmt: skip
    numbers: list[int] = []
    for (_, payload), (count, _) in zip(run, SHAPES * 2, strict=True):
        mine = [e for e in events if e.contact_id == payload.contact_id]
        kinds = [e.event_type for e in mine]
        assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
        assert kinds.count("contact.decided") == 1
        decided = next(e.payload for e in mine if e.event_type == "contact.decided")
        recorded = [e.payload["crime_reference"] for e in mine if e.event_type == "crime.recorded"]
        assert recorded == decided["crime_references"] and len(recorded) == count
        outcome, transferred = decided["outcome"], bool(decided["transfer_to"])
        # Every contact not recorded here is screened, and this one's narrative discloses a crime: a positive screen,
        # so published (a negative one is kept by the recorder alone).
        screened = outcome != "pending" and (outcome != "recorded" or transferred)
        assert ("contact.screened" in kinds) == screened
        if screened:
            screen = next(e.payload for e in mine if e.event_type == "contact.screened")
            assert screen["result"]["positive"] is True
        numbers += [int(r.rsplit("-", 1)[1]) for r in recorded]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert sum(e.event_type == "contact.screened" for e in events) == 4  # the ASB and transferred contacts
