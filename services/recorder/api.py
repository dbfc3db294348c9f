"""The recorder's HTTP routes: crime records and decisions, scoped to the caller's force."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from schemas.events import Outcome, Role
from services.recorder import repository
from services.runtime.access_log import Access
from services.runtime.auth import Principal, require_force, require_roles
from services.runtime.http import ServiceRuntime
from services.runtime.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR, Role.CALL_HANDLER)
CRN = Annotated[str, Path(pattern=r"^[A-Z]{2,5}-\d{4}-\d{6,}$", max_length=40, description="e.g. GMP-2026-000123")]


class CrimeRead(BaseModel):
    """A crime record."""

    crime_reference: str = Field(description="Unique per force and year, e.g. `GMP-2026-000123`.")
    contact_id: UUID
    force: str
    victim_ref: str | None
    ho_class: str = Field(description="Home Office class, e.g. `8N` assault with injury.")
    offence_group: str
    audit_category: str
    offender_ref: str | None
    incident_ref: str | None
    status: str
    received_at: datetime
    recorded_at: datetime
    recording_deadline: datetime = Field(description="received_at + 24 h: when it had to be recorded by.")
    transfer_to: str | None
    rules_version: str


class CrimePage(BaseModel):
    """A page of crime records; pass `next_after` as `after` for the next page."""

    items: list[CrimeRead]
    next_after: str | None


class DecisionRead(BaseModel):
    """The recording decision for a contact."""

    contact_id: UUID
    force: str
    outcome: Outcome
    rationale: str
    problems: list[str]
    rules_version: str
    received_at: datetime
    recording_deadline: datetime
    decided_at: datetime
    decided_by: str | None
    transfer_to: str | None
    n100: bool
    crime_references: list[str]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _crime(row: Any) -> CrimeRead:
    return CrimeRead.model_validate(row._mapping)


@router.get("/crimes/{crime_reference}", response_model=CrimeRead, tags=["crimes"], summary="Read a crime record")
async def get_crime(request: Request, crime_reference: CRN, principal: Annotated[Principal, READERS]) -> CrimeRead:
    """One crime record of your force."""
    runtime = _runtime(request)
    async with runtime.sessions() as session, session.begin():
        row = await repository.get_crime(session, crime_reference)
        if row is None:
            raise ProblemError(404, "Not found", f"No crime {crime_reference}.")
        require_force(principal, row.force)
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="crime", subject_ids=[crime_reference]
        )
    return _crime(row)


@router.get("/crimes", response_model=CrimePage, tags=["crimes"], summary="List crime records")
async def list_crimes(
    request: Request,
    principal: Annotated[Principal, READERS],
    force: Annotated[str | None, Query(max_length=10, description="Defaults to your force.")] = None,
    contact_id: UUID | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    ho_class: Annotated[str | None, Query(alias="class", max_length=10)] = None,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CrimePage:
    """Your force's crime records, filtered by contact, status or class, in reference order."""
    if force is not None and force != principal.force:
        raise ProblemError(403, "Forbidden", f"A {principal.force} credential sees only {principal.force} records.")
    runtime = _runtime(request)
    async with runtime.sessions() as session, session.begin():
        rows = await repository.list_crimes(
            session,
            force=principal.force,
            contact_id=contact_id,
            status=status,
            ho_class=ho_class,
            after=after,
            limit=limit,
        )
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="crime", subject_ids=[r.crime_reference for r in rows]
        )
    items = [_crime(row) for row in rows]
    return CrimePage(items=items, next_after=items[-1].crime_reference if len(items) == limit else None)


@router.get(
    "/contacts/{contact_id}/decision",
    response_model=DecisionRead,
    tags=["decisions"],
    summary="Read a decision",
)
async def get_decision(request: Request, contact_id: UUID, principal: Annotated[Principal, READERS]) -> DecisionRead:
    """What the recording standard decided for a contact, why, and the crimes it recorded."""
    runtime = _runtime(request)
    async with runtime.sessions() as session, session.begin():
        row = await repository.get_decision(session, contact_id)
        if row is None:
            raise ProblemError(404, "Not found", f"No decision yet for contact {contact_id}.")
        require_force(principal, row.force)
        crimes = await repository.list_crimes(session, force=principal.force, contact_id=contact_id, limit=500)
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="decision", subject_ids=[str(contact_id)]
        )
    return DecisionRead.model_validate(dict(row._mapping) | {"crime_references": [c.crime_reference for c in crimes]})
