"""First contact: every received contact is decided by the rules at once, and the crimes it discloses are recorded
with their crime references, N100s and rule transfers, one statement per table for a whole run of contacts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    Staging,
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
    # Crime references are allocated once and never rewritten. Allocating them locks the force's counter row until
    # commit (numbers without gaps), so whatever follows is done by one recorder process at a time. So first, with
    # no lock held, everything that names no crime is built and written: decisions, N100s (at first contact they
    # name no crime) and the screenings of the contacts not recorded, their events kept aside. The rules have
    # already said how many crimes each contact discloses, so the numbers are then allocated, and only the crimes,
    # the events that name them and the outbox are built and written while the counter is held.
    writes = Writes()
    aside = [_stage_unnumbered(writes, plan, policy=policy) for plan in plans]
    await repository.insert_rows(
        uow.session, decisions=writes.decisions, decision_history=writes.decision_history, n100s=writes.n100s,
        screenings=writes.screenings,
    )  # fmt: skip
    references = await _allocate(uow.session, plans)
    for plan, kept in zip(plans, aside, strict=True):
        _stage_numbered(uow, writes, plan, next(references[(plan.payload.force, plan.now.year)]), kept, policy=policy)
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


class _Aside:
    """The events of a contact built before its crimes are numbered, kept aside to be staged in their place."""

    def __init__(self) -> None:
        self.n100: list[tuple[str, Envelope]] = []
        self.screened: list[tuple[str, Envelope]] = []
        self.into = self.n100

    def emit(self, topic: str, envelope: Envelope) -> None:
        self.into.append((topic, envelope))


def _stage_unnumbered(writes: Writes, plan: _Plan, *, policy: RecorderPolicy) -> _Aside:
    """A contact's rows that name no crime (decision, its history, N100, screening); their events kept aside."""
    payload, decision, now = plan.payload, plan.decision, plan.now
    aside = _Aside()
    events = _events(aside, plan)
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
    if policy.screener is not None and needs_screening(decision):
        # Issue 18: a crime told only in the free text of a contact not recorded must not go through unseen.
        aside.into = aside.screened
        screen_at_first_contact(
            writes, events, contact=payload.contact, contact_id=payload.contact_id, decision=decision, now=now,
            screener=policy.screener,
        )  # fmt: skip
    return aside


def _stage_numbered(
    uow: UnitOfWork, writes: Writes, plan: _Plan, numbers: list[str], aside: _Aside, *, policy: RecorderPolicy
) -> None:
    """A contact's crimes under their allocated references, and its events in order: the crimes', the N100's,
    `contact.decided`, then `contact.screened`."""
    payload, decision, now = plan.payload, plan.decision, plan.now
    events = _events(uow, plan)
    record_crimes(
        writes, events, contact=payload.contact, contact_id=payload.contact_id, decision=decision,
        references=numbers, by=None, now=now, policy=policy,
    )  # fmt: skip
    uow.staged.extend(aside.n100)
    events.emit(
        decided_event(
            payload.contact_id, payload.force, payload.received_at, decision, numbers, None, now,
            credible_evidence=payload.contact.credible_evidence_to_contrary,
        )
    )  # fmt: skip
    uow.staged.extend(aside.screened)


def _events(into: Staging, plan: _Plan) -> Events:
    """The events of a contact's first decision: caused by its `contact.received`, at the moment it was decided."""
    return Events(into, correlation_id=plan.envelope.correlation_id, causation_id=plan.envelope.event_id, at=plan.now)


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


async def _allocate(session: AsyncSession, plans: Sequence[_Plan]) -> dict[tuple[str, int], Iterator[list[str]]]:
    """Allocates the run's crime references, as many for each force-year as the rules found crimes; returns, for
    each force-year, the references of each of its contacts in turn (in the run's order)."""
    needs: dict[tuple[str, int], list[int]] = {}
    for plan in plans:
        needs.setdefault((plan.payload.force, plan.now.year), []).append(len(plan.decision.crimes))
    out: dict[tuple[str, int], Iterator[list[str]]] = {}
    for (force, year), counts in sorted(needs.items()):  # one order for every process: no deadlock
        total = sum(counts)
        numbers = (
            await repository.allocate_crime_references(session, force=force, year=year, count=total) if total else []
        )
        each, at = [], 0
        for n in counts:
            each.append([crime_reference(force, year, number) for number in numbers[at : at + n]])
            at += n
        out[(force, year)] = iter(each)
    return out
