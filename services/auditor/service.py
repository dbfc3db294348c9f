"""The auditor's projection: what was reported, what was decided, what was recorded, and when it was due."""

from __future__ import annotations

from datetime import timedelta

from schemas.envelope import Envelope
from schemas.events import ContactDecided, ContactReceived, CrimeRecorded
from services.auditor import repository
from services.auditor.rules.counting import expected_crimes
from services.runtime.messaging import UnitOfWork


async def project_contact(uow: UnitOfWork, envelope: Envelope, received: ContactReceived, *, limit: timedelta) -> None:
    """Notes a contact: its deadline from receipt (event time) and the crimes the counting rules expect."""
    await repository.upsert_contact(
        uow.session,
        received.contact_id,
        force=received.force,
        category=received.contact.incident.category,
        received_at=received.received_at,
        recording_deadline=received.received_at + limit,
        expected_crimes=expected_crimes(received.contact),
    )


async def project_decision(uow: UnitOfWork, envelope: Envelope, decided: ContactDecided) -> None:
    """Notes the recorder's decision on a contact."""
    await repository.upsert_contact(
        uow.session,
        decided.contact_id,
        force=decided.force,
        outcome=decided.outcome.value,
        decided_at=decided.decided_at,
    )


async def project_crime(uow: UnitOfWork, envelope: Envelope, crime: CrimeRecorded) -> None:
    """Notes a recorded crime."""
    await repository.upsert_crime(
        uow.session,
        crime_reference=crime.crime_reference,
        contact_id=crime.contact_id,
        force=crime.force,
        ho_class=crime.ho_class,
        audit_category=crime.audit_category,
        status="recorded",
        recorded_at=crime.recorded_at,
        recording_deadline=crime.recording_deadline,
    )
