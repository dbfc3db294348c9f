"""The auditor's HTTP routes, scoped to the caller's force."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from schemas.events import Outcome, Role
from services.auditor import repository
from services.runtime.access_log import Access
from services.runtime.auth import Principal, require_force, require_roles
from services.runtime.http import ServiceRuntime
from services.runtime.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.AUDITOR, Role.FCR, Role.SUPERVISOR, Role.DDM)


class RecordedCrime(BaseModel):
    """A crime recorded for the contact, as the auditor saw it."""

    crime_reference: str
    ho_class: str
    audit_category: str
    status: str
    recorded_at: datetime
    on_time: bool = Field(description="Recorded by the deadline.")


class AuditedContact(BaseModel):
    """The auditor's view of a contact: what the rules expect, what was recorded, by when."""

    contact_id: UUID
    force: str | None
    received_at: datetime | None = Field(description="None until `contact.received` has been seen.")
    recording_deadline: datetime | None
    expected_crimes: int | None = Field(description="Crimes the counting rules require (one per victim per incident).")
    outcome: Outcome | None = Field(description="The recorder's decision, once seen.")
    recorded_crimes: list[RecordedCrime]
    status: str = Field(description="`awaiting_decision`, `recorded`, `under_recorded` or `not_recorded`.")


@router.get("/contacts/{contact_id}", response_model=AuditedContact, tags=["contacts"], summary="Audit a contact")
async def get_contact(request: Request, contact_id: UUID, principal: Annotated[Principal, READERS]) -> AuditedContact:
    """What the rules expected for a contact, what the recorder recorded, and whether it was on time."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        contact = await repository.get_contact(session, contact_id)
        crimes = await repository.crimes_of(session, contact_id)
        force = contact.force if contact else (crimes[0].force if crimes else None)
        if force is None:
            raise ProblemError(404, "Not found", f"The auditor has seen nothing of contact {contact_id}.")
        require_force(principal, force)
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="contact", subject_ids=[str(contact_id)]
        )
    recorded = [
        RecordedCrime(
            crime_reference=c.crime_reference,
            ho_class=c.ho_class,
            audit_category=c.audit_category,
            status=c.status,
            recorded_at=c.recorded_at,
            on_time=c.recorded_at <= c.recording_deadline,
        )
        for c in crimes
    ]
    expected = contact.expected_crimes if contact else None
    outcome = contact.outcome if contact else None
    if outcome is None:
        status = "awaiting_decision"
    elif expected is not None and len(recorded) < expected:
        status = "under_recorded" if recorded else "not_recorded"
    else:
        status = "recorded"
    return AuditedContact(
        contact_id=contact_id,
        force=force,
        received_at=contact.received_at if contact else None,
        recording_deadline=contact.recording_deadline if contact else None,
        expected_crimes=expected,
        outcome=outcome,
        recorded_crimes=recorded,
        status=status,
    )
