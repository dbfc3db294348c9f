"""The recorder's decisions: record the crimes a contact discloses, at first contact."""

from __future__ import annotations

from datetime import timedelta

from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.envelope import Envelope, utcnow
from schemas.events import ContactDecided, ContactReceived, CrimeRecorded
from services.recorder import repository
from services.recorder.rules.decision import decide
from services.runtime.messaging import UnitOfWork

PRODUCER = "recorder"


def crime_reference(force: str, year: int, number: int) -> str:
    """A readable, URL-safe crime reference number unique per force and year: `GMP-2026-000123`."""
    return f"{force}-{year}-{number:06d}"


async def record_contact(
    uow: UnitOfWork,
    received: Envelope,
    payload: ContactReceived,
    *,
    catalogue: OffenceCatalogue,
    limit: timedelta,
) -> None:
    """Decides a received contact by the rules, records its crimes, emits `crime.recorded` and `contact.decided`."""
    session = uow.session
    contact = payload.contact
    if not await repository.store_contact(
        session,
        contact_id=payload.contact_id,
        force=payload.force,
        received_at=payload.received_at,
        body=contact.model_dump(mode="json"),
        event_id=received.event_id,
    ):
        return  # already decided from an earlier delivery of this contact
    decision = decide(contact, catalogue=catalogue, limit=limit)
    now = utcnow()
    numbers = await repository.allocate_crime_references(
        session, force=payload.force, year=now.year, count=len(decision.crimes)
    )
    references = [crime_reference(payload.force, now.year, n) for n in numbers]
    rows = []
    for reference, crime in zip(references, decision.crimes, strict=True):
        offence = catalogue.get(crime.ho_class)
        assert offence is not None  # decide() only records classes the catalogue can record
        rows.append(
            {
                "crime_reference": reference,
                "contact_id": payload.contact_id,
                "force": payload.force,
                "victim_ref": crime.victim_ref,
                "ho_class": crime.ho_class,
                "offence_group": offence.group,
                "audit_category": offence.audit_category.value,
                "offender_ref": crime.offender_ref,
                "incident_ref": crime.incident_ref,
                "status": "recorded",
                "received_at": payload.received_at,
                "recorded_at": now,
                "recording_deadline": decision.recording_deadline,
                "transfer_to": decision.transfer_to,
                "rules_version": decision.rules_version,
            }
        )
    await repository.insert_crimes(session, rows)
    await repository.insert_decision(
        session,
        {
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
        },
    )

    def event(event_type: str, body: dict[str, object]) -> Envelope:
        return Envelope(
            event_type=event_type,
            producer=PRODUCER,
            contact_id=payload.contact_id,
            correlation_id=received.correlation_id,
            causation_id=received.event_id,
            payload=body,
        )

    for row in rows:
        uow.emit(
            topics.RECORDS,
            event(
                "crime.recorded",
                CrimeRecorded(
                    crime_reference=row["crime_reference"],
                    contact_id=payload.contact_id,
                    force=payload.force,
                    victim_ref=row["victim_ref"],
                    ho_class=row["ho_class"],
                    offence_group=row["offence_group"],
                    audit_category=row["audit_category"],
                    incident_ref=row["incident_ref"],
                    offender_ref=row["offender_ref"],
                    received_at=payload.received_at,
                    recorded_at=now,
                    recording_deadline=decision.recording_deadline,
                    transfer_to=decision.transfer_to,
                    rules_version=decision.rules_version,
                    recorded_by=None,
                ).model_dump(mode="json"),
            ),
        )
    uow.emit(
        topics.RECORDS,
        event(
            "contact.decided",
            ContactDecided(
                contact_id=payload.contact_id,
                force=payload.force,
                outcome=decision.outcome,
                crime_references=references,
                rationale=decision.rationale,
                rules_version=decision.rules_version,
                decided_at=now,
                recording_deadline=decision.recording_deadline,
                received_at=payload.received_at,
                decided_by=None,
                problems=list(decision.problems),
                n100=decision.n100,
                transfer_to=decision.transfer_to,
            ).model_dump(mode="json"),
        ),
    )
