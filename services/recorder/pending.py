"""Pending decisions: a person decides a contact the rules left pending, and what it amounts to is recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.contacts import ContactCreate
from schemas.events import Actor, Outcome
from services.recorder import repository
from services.recorder.recording import (
    Events,
    RecorderPolicy,
    Writes,
    allocate_references,
    decided_event,
    record_crimes,
    record_n100,
)
from services.recorder.rules.decision import Decision
from services.recorder.rules.resolution import Pending, Resolution, resolve, unit
from services.runtime import clock
from services.runtime.messaging import UnitOfWork
from services.runtime.refusals import Refused


async def resolve_pending(
    uow: UnitOfWork, *, contact_id: UUID, by: Actor, resolution: Resolution, policy: RecorderPolicy
) -> Refused | Decision:
    """A person decides a pending contact: records its crimes (counted by the rules), or CRI, non-crime or N100."""
    session = uow.session
    current = await repository.lock_decision(session, contact_id)
    if current is None or current.force != by.force:
        return Refused(404, "Not found", f"No decision for contact {contact_id} in {by.force}.")
    if current.outcome != Outcome.PENDING.value:
        return Refused(409, "Already decided", f"Contact {contact_id} was already decided: {current.outcome}.")
    contact, pending = await decision_in_question(session, current)
    decision = resolve(pending, resolution, catalogue=policy.catalogue, limit=policy.limit)
    if isinstance(decision, Refused):
        return decision
    await write_resolution(
        uow, contact=contact, contact_id=contact_id, current=current, decision=decision, by=by, now=clock.now(),
        credible_evidence=resolution.credible_evidence, policy=policy,
    )  # fmt: skip
    return decision


async def decision_in_question(session: AsyncSession, current: Any) -> tuple[ContactCreate, Pending]:
    """The contact behind a stored decision a person is about to change, with what is already recorded for it."""
    body = await repository.get_contact_body(session, current.contact_id)
    assert body is not None
    contact = ContactCreate.model_validate(body)
    existing = await repository.list_crimes(session, force=current.force, contact_id=current.contact_id, limit=500)
    pending = Pending(
        contact=contact,
        recording_deadline=current.recording_deadline,
        n100=current.n100,
        recorded=[(unit(c.victim_ref, c.ho_class, c.incident_ref), c.crime_reference) for c in existing],
    )
    return contact, pending


async def write_resolution(
    uow: UnitOfWork,
    *,
    contact: ContactCreate,
    contact_id: UUID,
    current: Any,
    decision: Decision,
    by: Actor,
    now: datetime,
    credible_evidence: str | None,
    policy: RecorderPolicy,
) -> list[str]:
    """Writes a person's decision on a contact (a pending one, or a screen's review): its crimes under new
    references, the changed decision and its history, any N100, and `crime.recorded` / `contact.decided`.
    Returns the crime references it recorded."""
    session = uow.session
    events = Events(uow, correlation_id=contact_id)
    writes = Writes()
    references = await allocate_references(session, force=contact.force, now=now, count=len(decision.crimes))
    record_crimes(
        writes, events, contact=contact, contact_id=contact_id, decision=decision, references=references, by=by,
        now=now, policy=policy,
    )  # fmt: skip
    await repository.update_decision(
        session, contact_id, outcome=decision.outcome.value, rationale=decision.rationale, problems=[],
        rules_version=decision.rules_version, decided_at=now, decided_by=by.principal,
        transfer_to=decision.transfer_to, n100=decision.n100,
    )  # fmt: skip
    await repository.add_decision_history(
        session, contact_id=contact_id, at=now, outcome=decision.outcome.value, by=by.principal,
        rationale=decision.rationale,
    )  # fmt: skip
    if decision.n100 and not current.n100:
        record_n100(
            writes, events, contact=contact, contact_id=contact_id, reason=decision.rationale, crime_reference=None,
            by=by, now=now, catalogue=policy.catalogue,
        )  # fmt: skip
    await writes.flush(session)
    events.emit(
        decided_event(
            contact_id, current.force, current.received_at, decision, references, by, now,
            credible_evidence=credible_evidence,
        )
    )  # fmt: skip
    return references
