"""A recorded crime's life: reclassification, cancellation and transfer under the force's authority matrix, and
telling the victim. Every change is kept in the crime's history and published; nothing is ever deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from schemas.catalogue import AuditCategory
from schemas.events import (
    Actor,
    AuthorityMode,
    CancellationCode,
    CancellationGrounds,
    CrimeCancellationRejected,
    CrimeCancellationRequested,
    CrimeCancelled,
    CrimeReclassified,
    CrimeTransferred,
    VictimNotified,
)
from services.recorder import repository
from services.recorder.recording import Events, RecorderPolicy, keep_n100_behind
from services.recorder.rules.authority import authority_problem
from services.recorder.rules.cancellation import grounds_problems
from services.runtime import clock
from services.runtime.messaging import UnitOfWork
from services.runtime.refusals import Refused


async def reclassify(
    uow: UnitOfWork,
    *,
    crime_reference: str,
    by: Actor,
    new_class: str,
    reason: str,
    new_information: bool,
    new_information_detail: str | None,
    policy: RecorderPolicy,
) -> Refused | None:
    """Changes a recorded crime's class; leaving rape for another class keeps an N100 behind."""
    crime = await repository.lock_crime(uow.session, crime_reference)
    if crime is None or crime.force != by.force:
        return Refused(404, "Not found", f"No crime {crime_reference} in {by.force}.")
    if crime.status != "recorded":
        return Refused(
            409, "Crime not live", f"{crime_reference} is {crime.status}; only a recorded crime changes class."
        )
    if (why := policy.catalogue.recordable(new_class)) is not None:
        return Refused(422, "Request is not valid", f"new_class {new_class}: {why}", (("new_class", why),))
    if new_class == crime.ho_class:
        return Refused(
            422, "Request is not valid", f"{crime_reference} is already {new_class}.", (("new_class", "unchanged"),)
        )
    offence = policy.catalogue.get(new_class)
    assert offence is not None
    now = clock.now()
    await repository.update_crime(
        uow.session, crime_reference, ho_class=new_class, offence_group=offence.group,
        audit_category=offence.audit_category.value,
    )  # fmt: skip
    event = CrimeReclassified(
        contact_id=crime.contact_id,
        crime_reference=crime_reference,
        force=crime.force,
        previous_class=crime.ho_class,
        previous_audit_category=AuditCategory(crime.audit_category),
        new_class=new_class,
        new_audit_category=offence.audit_category,
        offence_group=offence.group,
        reason=reason,
        new_information=new_information,
        new_information_detail=new_information_detail,
        reclassified_by=by,
        reclassified_at=now,
    )
    await repository.add_crime_history(
        uow.session, crime_reference=crime_reference, at=now, event_type=event.EVENT_TYPE, by=by.principal,
        detail=event.model_dump(mode="json", include={"previous_class", "new_class", "reason", "new_information"}),
    )  # fmt: skip
    events = Events(uow, correlation_id=crime.contact_id)
    events.emit(event)
    if crime.audit_category == AuditCategory.RAPE.value and offence.audit_category is not AuditCategory.RAPE:
        await keep_n100_behind(
            uow, events, crime=crime, reason=f"Reclassified from {crime.ho_class} to {new_class}: {reason}", by=by,
            now=now, catalogue=policy.catalogue,
        )  # fmt: skip
    return None


async def request_cancellation(
    uow: UnitOfWork,
    *,
    crime_reference: str,
    by: Actor,
    grounds: CancellationGrounds,
    victim_informed: bool,
    victim_informed_at: datetime | None,
) -> Refused | UUID:
    """An officer asks for a crime to be cancelled or transferred; the request carries what its code requires."""
    session = uow.session
    crime = await repository.lock_crime(session, crime_reference)
    if crime is None or crime.force != by.force:
        return Refused(404, "Not found", f"No crime {crime_reference} in {by.force}.")
    if crime.status != "recorded":
        return Refused(409, "Crime not live", f"{crime_reference} is already {crime.status}.")
    duplicate_live = None
    if grounds.code is CancellationCode.C3 and grounds.duplicate_of:
        other = await repository.get_crime(session, grounds.duplicate_of)
        duplicate_live = other is not None and other.force == crime.force and other.status == "recorded"
    problems = grounds_problems(
        grounds, own_force=crime.force, crime_reference=crime_reference, duplicate_is_live=duplicate_live
    )
    if victim_informed_at is not None and victim_informed_at > clock.now() + timedelta(minutes=5):
        problems.append(("victim_informed_at", "is in the future"))
    if problems:
        errors = tuple(problems)
        return Refused(422, "Cancellation grounds incomplete", "; ".join(m for _, m in errors), errors)
    now = clock.now()
    event = CrimeCancellationRequested(
        contact_id=crime.contact_id, request_id=uuid4(), crime_reference=crime_reference, force=crime.force,
        ho_class=crime.ho_class, audit_category=AuditCategory(crime.audit_category), grounds=grounds, requested_by=by,
        requested_at=now, victim_informed=victim_informed, victim_informed_at=victim_informed_at,
    )  # fmt: skip
    request_id = event.request_id
    stored = await repository.insert_cancellation_request(
        session,
        {
            "request_id": request_id, "crime_reference": crime_reference, "contact_id": crime.contact_id,
            "force": crime.force, "code": grounds.code.value, "grounds": grounds.model_dump(mode="json"),
            "requested_by": by.model_dump(mode="json"), "requested_at": now, "victim_informed": victim_informed,
            "victim_informed_at": victim_informed_at, "status": "pending",
        },
    )  # fmt: skip
    if not stored:
        return Refused(409, "Request already open", f"{crime_reference} already has an open cancellation request.")
    await repository.add_crime_history(
        session, crime_reference=crime_reference, at=now, event_type=event.EVENT_TYPE, by=by.principal,
        detail={"request_id": str(request_id), "grounds": grounds.model_dump(mode="json")},
    )  # fmt: skip
    Events(uow, correlation_id=crime.contact_id).emit(event)
    return request_id


async def decide_cancellation(
    uow: UnitOfWork, *, request_id: UUID, by: Actor, approve: bool, note: str, policy: RecorderPolicy
) -> Refused | str:
    """An authoriser approves (the crime is cancelled or transferred) or rejects a request; returns its status."""
    session = uow.session
    request = await repository.lock_cancellation_request(session, request_id)
    if request is None or request.force != by.force:
        return Refused(404, "Not found", f"No cancellation request {request_id} in {by.force}.")
    if request.status != "pending":
        return Refused(409, "Already decided", f"Request {request_id} was already {request.status}.")
    crime = await repository.lock_crime(session, request.crime_reference)
    assert crime is not None
    requester = Actor.model_validate(request.requested_by)
    authority = policy.authority_for(crime.force)
    if by.principal == requester.principal:
        # A different person decides, whatever the force's authority mode (domain.md: never the requester).
        return Refused(
            403, "Not authorised", f"Cannot decide request {request_id}: the person who asked cannot decide it."
        )
    problem = authority_problem(
        authority, audit_category=AuditCategory(crime.audit_category), requester=requester, authoriser=by
    )
    if problem and authority.mode is AuthorityMode.ENFORCE:
        return Refused(403, "Not authorised", f"Cannot decide request {request_id}: {problem}.")
    grounds = CancellationGrounds.model_validate(request.grounds)
    if approve and grounds.code is CancellationCode.C3 and grounds.duplicate_of:
        # The crime it duplicates may have been cancelled since the request: then this one is no duplicate.
        other = await repository.get_crime(session, grounds.duplicate_of)
        if other is None or other.status != "recorded":
            return Refused(
                409, "Grounds no longer hold",
                f"{grounds.duplicate_of} is no longer a live crime, so {crime.crime_reference} duplicates nothing.",
            )  # fmt: skip
    now = clock.now()
    status = "approved" if approve else "rejected"
    await repository.update_cancellation_request(
        session, request_id, status=status, decided_by=by.model_dump(mode="json"), decided_at=now, decision_note=note
    )
    events = Events(uow, correlation_id=crime.contact_id)
    if not approve:
        await _reject(uow, events, crime=crime, request_id=request_id, by=by, now=now, note=note)
    else:
        removal = _removal(
            crime, request, request_id=request_id, grounds=grounds, requester=requester, by=by, now=now, policy=policy
        )
        await _remove(uow, events, crime=crime, removal=removal, by=by, note=note, problem=problem, policy=policy)
    return status


async def _reject(
    uow: UnitOfWork, events: Events, *, crime: Any, request_id: UUID, by: Actor, now: datetime, note: str
) -> None:
    """The request is refused: the crime stays recorded, and the refusal is kept and published."""
    event = CrimeCancellationRejected(
        contact_id=crime.contact_id, request_id=request_id, crime_reference=crime.crime_reference,
        force=crime.force, rejected_by=by, rejected_at=now, reason=note,
    )  # fmt: skip
    await repository.add_crime_history(
        uow.session, crime_reference=crime.crime_reference, at=now, event_type=event.EVENT_TYPE, by=by.principal,
        detail={"request_id": str(request_id), "reason": note},
    )  # fmt: skip
    events.emit(event)


def _removal(
    crime: Any,
    request: Any,
    *,
    request_id: UUID,
    grounds: CancellationGrounds,
    requester: Actor,
    by: Actor,
    now: datetime,
    policy: RecorderPolicy,
) -> CrimeCancelled | CrimeTransferred:
    """The event of an approved request: a transfer (C1) or a cancellation, with who asked and who authorised."""
    authority = policy.authority_for(crime.force)
    audit_category = AuditCategory(crime.audit_category)
    common: dict[str, Any] = {
        "contact_id": crime.contact_id,
        "request_id": request_id,
        "crime_reference": crime.crime_reference,
        "force": crime.force,
        "ho_class": crime.ho_class,
        "audit_category": audit_category,
        "grounds": grounds,
        "requested_by": requester,
        "requested_at": request.requested_at,
        "authorised_by": by,
        "authorised_at": now,
        "authority_required": authority.required(audit_category),
        "authority_mode": authority.mode,
        "victim_informed": request.victim_informed,
        "victim_informed_at": request.victim_informed_at,
    }
    if grounds.code is CancellationCode.C1:
        assert grounds.receiving_force is not None
        return CrimeTransferred(**common, receiving_force=grounds.receiving_force)
    return CrimeCancelled(**common)


async def _remove(
    uow: UnitOfWork,
    events: Events,
    *,
    crime: Any,
    removal: CrimeCancelled | CrimeTransferred,
    by: Actor,
    note: str,
    problem: str | None,
    policy: RecorderPolicy,
) -> None:
    """Carries out an approved request; a transferred rape keeps an N100 behind."""
    transfer = isinstance(removal, CrimeTransferred)
    receiving_force = removal.receiving_force if isinstance(removal, CrimeTransferred) else None
    now = removal.authorised_at
    await repository.update_crime(
        uow.session, crime.crime_reference, status="transferred" if transfer else "cancelled",
        transfer_to=receiving_force if transfer else crime.transfer_to,
    )  # fmt: skip
    await repository.add_crime_history(
        uow.session, crime_reference=crime.crime_reference, at=now, event_type=removal.EVENT_TYPE, by=by.principal,
        detail={"request_id": str(removal.request_id), "note": note, "authority_problem": problem},
    )  # fmt: skip
    events.emit(removal)
    if transfer and removal.audit_category is AuditCategory.RAPE:
        await keep_n100_behind(
            uow, events, crime=crime, reason=f"Rape transferred to {receiving_force}; the N100 stays behind.",
            by=by, now=now, catalogue=policy.catalogue,
        )  # fmt: skip


async def notify_victim(
    uow: UnitOfWork, *, crime_reference: str, by: Actor, notified_at: datetime, method: str
) -> Refused | None:
    """Records that and when the victim was told of the cancellation or transfer of their crime."""
    crime = await repository.get_crime(uow.session, crime_reference)
    if crime is None or crime.force != by.force:
        return Refused(404, "Not found", f"No crime {crime_reference} in {by.force}.")
    if notified_at > clock.now() + timedelta(minutes=5):
        return Refused(
            422, "Request is not valid", "notified_at is in the future.", (("notified_at", "in the future"),)
        )
    about = None
    if crime.status == "transferred":
        about = CancellationCode.C1
    elif crime.status == "cancelled":
        history = await repository.history_of(uow.session, crime_reference)
        approved = [h for h in history if h.event_type == "crime.cancelled"]
        if approved:
            request = await repository.get_cancellation_request(uow.session, UUID(approved[-1].detail["request_id"]))
            about = CancellationCode(request.code) if request else None
    await repository.insert_victim_notification(
        uow.session,
        {
            "crime_reference": crime_reference,
            "about": about.value if about else None,
            "notified_at": notified_at,
            "method": method,
            "notified_by": by.principal,
        },
    )
    event = VictimNotified(
        contact_id=crime.contact_id, crime_reference=crime_reference, force=crime.force, about=about,
        notified_at=notified_at, method=method, notified_by=by,
    )  # fmt: skip
    await repository.add_crime_history(
        uow.session, crime_reference=crime_reference, at=clock.now(), event_type=event.EVENT_TYPE, by=by.principal,
        detail={"notified_at": notified_at.isoformat(), "method": method},
    )  # fmt: skip
    Events(uow, correlation_id=crime.contact_id).emit(event)
    return None
