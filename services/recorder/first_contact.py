"""First contact: every received contact is decided by the rules at once, and the crimes it discloses are recorded
with their crime references, N100s and rule transfers, one statement per table for a whole run of contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.envelope import Envelope
from schemas.events import ContactReceived
from services.recorder import repository
from services.recorder.recording import (
    Events,
    RecorderPolicy,
    Writes,
    crime_reference,
    decided_event,
    record_crimes,
    record_n100,
)
from services.recorder.rules.decision import Decision, decide
from services.recorder.screening import needs_screening, screen_at_first_contact
from services.runtime import clock
from services.runtime.messaging import UnitOfWork


@dataclass(frozen=True)
class _Plan:
    """A contact seen for the first time, its decision by the rules and the moment it was decided."""

    envelope: Envelope
    payload: ContactReceived
    decision: Decision
    now: datetime


async def record_contacts(
    uow: UnitOfWork, received: Sequence[tuple[Envelope, ContactReceived]], *, policy: RecorderPolicy
) -> None:
    """Decides a run of received contacts by the rules and records their crimes, N100s and transfers, at once:
    one statement per table for the whole run, references allocated once per force and year."""
    plans = await _decide_new(uow.session, received, policy=policy)
    # Crime references are numbered last. Allocating them locks the force's counter row until commit (numbers
    # without gaps), so whatever follows is done by one recorder process at a time. Everything is built first under
    # provisional references and what needs none is written (decisions, N100s, which at first contact name no
    # crime, and the screenings of the contacts not recorded); then the numbers are allocated, the crimes and their
    # events renumbered, and only the crimes and the outbox are written while the counter is held.
    writes = Writes()
    staged_before = len(uow.staged)
    provisional = _stage(uow, writes, plans, policy=policy)
    await repository.insert_rows(
        uow.session, decisions=writes.decisions, decision_history=writes.decision_history, n100s=writes.n100s,
        screenings=writes.screenings,
    )  # fmt: skip
    final = await _allocate(uow.session, provisional)
    for row in (*writes.crimes, *writes.crime_history):
        row["crime_reference"] = final[row["crime_reference"]]
    for _, event in uow.staged[staged_before:]:
        _renumber(event.payload, final)
    await repository.insert_rows(uow.session, crimes=writes.crimes, crime_history=writes.crime_history)


async def _decide_new(
    session: AsyncSession, received: Sequence[tuple[Envelope, ContactReceived]], *, policy: RecorderPolicy
) -> list[_Plan]:
    """Stores the contacts not seen before and decides each of them once (a contact delivered twice is decided once)."""
    new = await repository.store_contacts(
        session,
        [
            {
                "contact_id": p.contact_id,
                "force": p.force,
                "received_at": p.received_at,
                "body": e.payload["contact"],  # as received: the event's JSON, not dumped again
                "event_id": e.event_id,
            }
            for e, p in received
        ],
    )
    # Live, a run is decided at one moment, as it commits at one (and the rows then share their times, which go to
    # the database once); in a simulation each contact is decided at its own time.
    live = None if clock.simulating() else clock.now()
    plans = []
    for envelope, payload in received:
        if payload.contact_id in new:
            new.discard(payload.contact_id)
            decision = decide(payload.contact, catalogue=policy.catalogue, limit=policy.limit)
            plans.append(_Plan(envelope, payload, decision, live or clock.when_handling(envelope.occurred_at)))
    return plans


def _stage(
    uow: UnitOfWork, writes: Writes, plans: Sequence[_Plan], *, policy: RecorderPolicy
) -> dict[tuple[str, int], int]:
    """Builds every row and event of the run under provisional references; returns how many each force-year needs."""
    provisional: dict[tuple[str, int], int] = {}
    for plan in plans:
        payload, decision, now = plan.payload, plan.decision, plan.now
        events = Events(uow, correlation_id=plan.envelope.correlation_id, causation_id=plan.envelope.event_id, at=now)
        key = (payload.force, now.year)
        first = provisional.get(key, 0) + 1
        provisional[key] = first + len(decision.crimes) - 1
        references = [crime_reference(payload.force, now.year, n) for n in range(first, provisional[key] + 1)]
        record_crimes(
            writes, events, contact=payload.contact, contact_id=payload.contact_id, decision=decision,
            references=references, by=None, now=now, policy=policy,
        )  # fmt: skip
        writes.decisions.append(_decision_row(payload, decision, now))
        writes.decision_history.append(
            {"contact_id": payload.contact_id, "at": now, "outcome": decision.outcome.value, "by_principal": None,
             "rationale": decision.rationale}
        )  # fmt: skip
        if decision.n100:
            record_n100(
                writes, events, contact=payload.contact, contact_id=payload.contact_id, reason=decision.rationale,
                crime_reference=None, by=None, now=now, catalogue=policy.catalogue,
            )  # fmt: skip
        events.emit(
            decided_event(
                payload.contact_id, payload.force, payload.received_at, decision, references, None, now,
                credible_evidence=payload.contact.credible_evidence_to_contrary,
            )
        )  # fmt: skip
        if policy.screener is not None and needs_screening(decision):
            # Issue 18: a crime told only in the free text of a contact not recorded must not go through unseen.
            screen_at_first_contact(
                writes, events, contact=payload.contact, contact_id=payload.contact_id, decision=decision, now=now,
                screener=policy.screener,
            )  # fmt: skip
    return provisional


def _decision_row(payload: ContactReceived, decision: Decision, now: datetime) -> dict[str, Any]:
    """The stored first-contact decision of a contact (decided by the rules, by nobody)."""
    return {
        "contact_id": payload.contact_id,
        "force": payload.force,
        "outcome": decision.outcome.value,
        "rationale": decision.rationale,
        "problems": list(decision.problems),
        "rules_version": decision.rules_version,
        "received_at": payload.received_at,
        "recording_deadline": decision.recording_deadline,
        "decided_at": now,
        "decided_by": None,
        "transfer_to": decision.transfer_to,
        "n100": decision.n100,
    }


async def _allocate(session: AsyncSession, provisional: dict[tuple[str, int], int]) -> dict[str, str]:
    """Allocates the run's crime references; maps each provisional reference to its final one."""
    final: dict[str, str] = {}
    for (force, year), count in sorted(provisional.items()):  # one order for every process: no deadlock
        if count:
            allocated = await repository.allocate_crime_references(session, force=force, year=year, count=count)
            final |= {
                crime_reference(force, year, n): crime_reference(force, year, number)
                for n, number in enumerate(allocated, 1)
            }
    return final


def _renumber(payload: dict[str, Any], final: dict[str, str]) -> None:
    """Replaces an event's provisional crime references by the allocated ones (in the payload this run built)."""
    if payload.get("crime_reference") is not None:
        payload["crime_reference"] = final[payload["crime_reference"]]
    if payload.get("crime_references"):
        payload["crime_references"] = [final[r] for r in payload["crime_references"]]
