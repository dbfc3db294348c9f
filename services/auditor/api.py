"""The auditor's HTTP routes, scoped to the caller's force: contacts as audited, the flags' life, the clock,
recording statistics and sample audits."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import StringConstraints

from schemas.envelope import AwareDatetime
from schemas.events import FlagStatus, Role
from services.auditor import audit_repository, flag_search, judging, ledger, repository, service
from services.auditor.rules import statistics
from services.auditor.rules.counting import recording_status
from services.auditor.rules.flags import Rule, Severity, at_or_above
from services.auditor.schemas import (
    AuditCreate,
    AuditedContact,
    AuditItemRead,
    AuditJudgement,
    AuditRead,
    AuditResult,
    ClockReading,
    FlagAcknowledgement,
    FlagDetail,
    FlagHistoryEntry,
    FlagPage,
    FlagResolution,
    RecordedCrime,
    flag_read,
    rate_read,
)
from services.runtime import clock
from services.runtime.access_log import Access
from services.runtime.auth import Principal, require_force, require_own_force, require_roles
from services.runtime.http import runtime_of
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, Problem, ProblemError
from services.runtime.routes import reading, writing

PrincipalId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
FlagId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A flag's id (a bigint).")]

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR, Role.DDM)
HANDLERS = require_roles(Role.FCR, Role.SUPERVISOR, Role.DDM, Role.AUDITOR)
Reader = Annotated[Principal, READERS]
Handler = Annotated[Principal, HANDLERS]


@router.get("/clock", response_model=ClockReading, tags=["health"], summary="Read the auditor's clock")
async def read_clock(request: Request, principal: Reader) -> ClockReading:
    """How far the auditor has judged: a replay or simulation is fully judged once `caught_up` is true and `now`
    has reached its last event."""
    runtime = runtime_of(request)
    event_time = request.app.state.standard.event_time
    return ClockReading(
        mode="event_time" if event_time else "live",
        now=judging.judging_time(runtime, event_time=event_time),
        caught_up=runtime.caught_up(),
    )


@router.get("/contacts/{contact_id}", response_model=AuditedContact, tags=["contacts"], summary="Audit a contact")
async def get_contact(request: Request, contact_id: UUID, principal: Reader) -> AuditedContact:
    """What the rules expected for a contact, what the recorder recorded, whether it was on time, and its flags."""
    async with reading(request, principal) as route:
        contact = await repository.get_contact(route.session, contact_id)
        crimes = await repository.crimes_of(route.session, contact_id)
        force = contact.force if contact else (crimes[0].force if crimes else None)
        if force is None:
            raise ProblemError(404, "Not found", f"The auditor has seen nothing of contact {contact_id}.")
        require_force(principal, force, f"The auditor has seen nothing of contact {contact_id}.")
        flags = await repository.list_flags(route.session, force=force, contact_id=contact_id, limit=500)
        route.touches("contact", contact_id)
    recorded = [
        RecordedCrime.model_validate({**c._mapping, "on_time": c.recorded_at <= c.recording_deadline}) for c in crimes
    ]
    expected = contact.expected_crimes if contact else None
    outcome = contact.outcome if contact else None
    reported = contact is not None and contact.received_at is not None
    status = recording_status(reported=reported, outcome=outcome, expected=expected, recorded=len(recorded))
    return AuditedContact(
        contact_id=contact_id,
        force=force,
        received_at=contact.received_at if contact else None,
        recording_deadline=contact.recording_deadline if contact else None,
        expected_crimes=expected,
        outcome=outcome,
        recorded_crimes=recorded,
        status=status,
        flags=[flag_read(f) for f in flags],
    )


@router.get("/flags", response_model=FlagPage, tags=["flags"], summary="List flags")
async def list_flags(
    request: Request,
    principal: Reader,
    rule: Rule | None = None,
    status: FlagStatus | None = None,
    severity: Annotated[Severity | None, Query(description="Minimum severity.")] = None,
    force: Annotated[str | None, Query(max_length=10, description="Defaults to your force.")] = None,
    contact_id: UUID | None = None,
    crime_reference: Annotated[str | None, Query(max_length=40)] = None,
    raised_from: AwareDatetime | None = None,
    raised_to: AwareDatetime | None = None,
    offence_group: Annotated[str | None, Query(max_length=100, description=flag_search.OFFENCE_GROUP)] = None,
    officer: Annotated[list[PrincipalId] | None, Query(max_length=50, description=flag_search.OFFICER)] = None,
    with_total: Annotated[bool, Query(description="Also count every flag passing the filters (`total`).")] = False,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FlagPage:
    """Your force's flags, filtered by rule, status, minimum severity, period, contact, crime, offence group or the
    officers who acted; oldest first."""
    require_own_force(principal, force, "flags")
    where = flag_search.evidence_filters(request.app.state.standard.catalogue, offence_group, officer)
    filters: dict[str, Any] = dict(
        rule=rule.value if rule else None, status=status.value if status else None,
        severities=at_or_above(severity) if severity else None, contact_id=contact_id,
        crime_reference=crime_reference, raised_from=raised_from, raised_to=raised_to,
    )  # fmt: skip
    async with reading(request, principal) as route:
        rows = await repository.list_flags(
            route.session, force=principal.force, after=after, limit=limit, where=where, **filters
        )
        total = None
        if with_total:
            conditions = [*repository.flag_filters(force=principal.force, **filters), *where]
            total = await flag_search.count_flags(route.session, force=principal.force, where=conditions)
        route.touches("flag", *(str(r.flag_id) for r in rows))
    items = [flag_read(r) for r in rows]
    return FlagPage(items=items, next_after=items[-1].flag_id if len(items) == limit else None, total=total)


async def _detail(request: Request, flag_id: FlagId, principal: Principal, *, consulted: bool = True) -> FlagDetail:
    async with reading(request, principal) as route:
        flag = route.own(await repository.get_flag(route.session, flag_id), f"No flag {flag_id}.")
        history = await repository.flag_history_of(route.session, flag_id)
        if consulted:
            route.touches("flag", str(flag_id))
    return FlagDetail.model_validate(
        dict(flag._mapping)
        | {"history": [FlagHistoryEntry(at=h.at, status=h.status, by=h.by_principal, note=h.note) for h in history]}
    )


@router.get("/flags/{flag_id}", response_model=FlagDetail, tags=["flags"], summary="Read a flag and its history")
async def get_flag(request: Request, flag_id: FlagId, principal: Reader) -> FlagDetail:
    """One flag with every step of its life."""
    return await _detail(request, flag_id, principal)


async def _change(
    request: Request, flag_id: FlagId, principal: Principal, status: FlagStatus, resolution: str | None, note: str
) -> FlagDetail:
    async with writing(request, principal) as route:
        changed = await ledger.change_flag(
            route.uow, flag_id=flag_id, force=principal.force, by=principal.key_id, status=status,
            resolution=resolution, note=note, now=clock.now(),
        )  # fmt: skip
        route.accepted(changed)
        route.touches("flag", str(flag_id))
    return await _detail(request, flag_id, principal, consulted=False)


FLAG_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The flag cannot change so (resolved, or cured by an event)."}
}


@router.post(
    "/flags/{flag_id}/acknowledgement",
    response_model=FlagDetail,
    tags=["flags"],
    summary="Acknowledge a flag",
    responses=FLAG_CONFLICT,
)
async def acknowledge(request: Request, flag_id: FlagId, body: FlagAcknowledgement, principal: Handler) -> FlagDetail:
    """A named person has seen the flag and is dealing with it."""
    return await _change(request, flag_id, principal, FlagStatus.ACKNOWLEDGED, None, body.note)


@router.post(
    "/flags/{flag_id}/resolution",
    response_model=FlagDetail,
    tags=["flags"],
    summary="Resolve a flag",
    responses=FLAG_CONFLICT,
)
async def resolve(request: Request, flag_id: FlagId, body: FlagResolution, principal: Handler) -> FlagDetail:
    """Closes a flag as corrected, justified or a false positive, with a note."""
    return await _change(request, flag_id, principal, FlagStatus.RESOLVED, body.resolution, body.note)


# ------------------------------------------------------------------------------------------------ sample audits


AUDITORS = require_roles(Role.AUDITOR, Role.FCR)
AUDIT_READERS = require_roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR)
Auditor = Annotated[Principal, AUDITORS]


async def _audit(request: Request, audit_id: UUID, principal: Principal, recorded_12_months: int | None) -> AuditRead:
    async with reading(request, principal) as route:
        audit, items = await audit_repository.get_audit(route.session, audit_id)
        audit = route.own(audit, f"No audit {audit_id}.")
        route.touches("audit", str(audit_id))
        own_count = await repository.crimes_recorded_between(
            route.session, force=audit.force, start=audit.period_to - timedelta(days=365), end=audit.period_to
        )
    judged = [i for i in items if i.crimes_required is not None]
    rate = statistics.wilson(sum(i.crimes_correctly_recorded for i in judged), sum(i.crimes_required for i in judged))
    annual = recorded_12_months if recorded_12_months is not None else own_count
    return AuditRead.model_validate(
        dict(audit._mapping)
        | {
            "items": [AuditItemRead.model_validate(i._mapping) for i in items],
            "result": AuditResult(
                judged=len(judged),
                recording_rate=rate_read(rate),
                recorded_crime_12_months=annual,
                unrecorded_crimes_per_year=statistics.unrecorded_per_year(annual, rate.rate),
            ),
        }
    )


@router.post("/audits", status_code=201, response_model=AuditRead, tags=["audits"], summary="Draw a sample audit")
async def create_audit(request: Request, body: AuditCreate, principal: Auditor) -> AuditRead:
    """Draws a reproducible random sample of your force's contacts received in the period (stratified by the
    audit category of the most serious reported offence, if asked), for auditors to judge one by one."""
    if body.period_to <= body.period_from:
        raise ProblemError(422, "Request is not valid", "period_to must be after period_from.")
    seed = body.seed if body.seed is not None else secrets.randbits(62)
    async with writing(request, principal, access=Access.CONSULTATION) as route:
        audit_id, sampled = await service.draw_audit(
            route.session, force=principal.force, by=principal.key_id, period_from=body.period_from,
            period_to=body.period_to, size=body.size, stratify=body.stratify, seed=seed,
            standard=request.app.state.standard,
        )  # fmt: skip
        route.touches("contact", *sampled)
    return await _audit(request, audit_id, principal, None)


@router.get("/audits/{audit_id}", response_model=AuditRead, tags=["audits"], summary="Read a sample audit")
async def get_audit(
    request: Request,
    audit_id: UUID,
    principal: Annotated[Principal, AUDIT_READERS],
    recorded_crime_12_months: Annotated[int | None, Query(ge=0, description="R as published, if preferred.")] = None,
) -> AuditRead:
    """The sample, the judgements so far, and the recording rate with its 95% interval and the annual estimate."""
    return await _audit(request, audit_id, principal, recorded_crime_12_months)


@router.put(
    "/audits/{audit_id}/items/{item_no}", response_model=AuditRead, tags=["audits"], summary="Judge a sampled contact"
)
async def judge(
    request: Request,
    audit_id: UUID,
    item_no: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: AuditJudgement,
    principal: Auditor,
) -> AuditRead:
    """Records the auditor's judgement: how many crimes should have been recorded, and how many were correctly."""
    if body.crimes_correctly_recorded > body.crimes_required:
        raise ProblemError(
            422, "Request is not valid", "crimes_correctly_recorded cannot exceed crimes_required.",
            errors=[FieldError(field="body.crimes_correctly_recorded", message="more than crimes_required")],
        )  # fmt: skip
    async with writing(request, principal) as route:
        audit, _ = await audit_repository.get_audit(route.session, audit_id)
        route.own(audit, f"No audit {audit_id}.")
        judged = await audit_repository.judge_item(
            route.session, audit_id=audit_id, item_no=item_no, crimes_required=body.crimes_required,
            crimes_correctly_recorded=body.crimes_correctly_recorded, judged_by=principal.key_id,
            judged_at=clock.now(), note=body.note,
        )  # fmt: skip
        if not judged:
            raise ProblemError(404, "Not found", f"Audit {audit_id} has no item {item_no}.")
        route.touches("audit", f"{audit_id}/{item_no}")
    return await _audit(request, audit_id, principal, None)
