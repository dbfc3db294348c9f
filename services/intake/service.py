"""Intake's decisions: accept a contact once, durably, and publish it; follow what the recorder decided."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate, catalogue_problems
from schemas.envelope import Envelope
from schemas.events import ContactDecided, ContactReceived
from services.intake import repository
from services.runtime import clock
from services.runtime.auth import Principal
from services.runtime.messaging import UnitOfWork

PRODUCER = "intake"


class Accepted(StrEnum):
    """What became of a POSTed contact."""

    CREATED = "created"
    REPLAYED = "replayed"  # same key, same body: the first response again
    KEY_IN_FLIGHT = "key_in_flight"  # same key while the first request is still being handled
    KEY_REUSED = "key_reused"  # same key, another body
    DUPLICATE_SOURCE = "duplicate_source"  # the caller's incident reference already has a contact


@dataclass(frozen=True)
class Receipt:
    """The outcome of receiving a contact, with the response to give."""

    outcome: Accepted
    contact_id: UUID | None = None
    status_code: int = 201
    response: dict[str, Any] | None = None


def request_fingerprint(contact: ContactCreate) -> bytes:
    """A hash of the request's meaning (canonical JSON), so the same body sent twice is recognised."""
    return hashlib.sha256(contact.model_dump_json(round_trip=True).encode()).digest()


def contact_problems(
    contact: ContactCreate, *, catalogue: OffenceCatalogue, now: datetime, skew: timedelta
) -> list[tuple[str, str]]:
    """What is wrong with a contact beyond its shape: classes that cannot be recorded, times in the future."""
    problems = [
        (".".join(str(p) for p in problem.loc), problem.message) for problem in catalogue_problems(contact, catalogue)
    ]
    for name in ("received_at", "occurred_from", "occurred_to"):
        value: datetime | None = getattr(contact, name)
        if value is not None and value > now + skew:
            problems.append(
                (
                    name,
                    f"is in the future ({value.isoformat()}); the clock allows {int(skew.total_seconds())} s of skew",
                )
            )
    return problems


async def receive_contact(
    uow: UnitOfWork,
    *,
    contact: ContactCreate,
    principal: Principal,
    idempotency_key: str,
    response_for: Any,
) -> Receipt:
    """Stores a contact, its idempotency record and its `contact.received` event in one transaction."""
    session = uow.session
    fingerprint = request_fingerprint(contact)
    if not await repository.try_lock_key(session, client_id=principal.key_id, key=idempotency_key):
        return Receipt(Accepted.KEY_IN_FLIGHT, status_code=409)
    earlier = await repository.find_key(session, client_id=principal.key_id, key=idempotency_key)
    if earlier is not None:
        if earlier.request_sha256 != fingerprint:
            return Receipt(Accepted.KEY_REUSED, contact_id=earlier.contact_id, status_code=422)
        return Receipt(Accepted.REPLAYED, earlier.contact_id, earlier.status_code, earlier.response)
    contact_id = uuid4()
    event = Envelope(
        event_type="contact.received",
        producer=PRODUCER,
        contact_id=contact_id,
        correlation_id=contact_id,
        occurred_at=clock.now(),
        payload=ContactReceived(
            contact_id=contact_id,
            force=contact.force,
            received_at=contact.received_at,
            submitted_by=principal.actor(),
            contact=contact,
        ).model_dump(mode="json"),
    )
    stored = await repository.insert_contact(
        session,
        contact_id=contact_id,
        force=contact.force,
        source_system=contact.source.system,
        source_reference=contact.source.reference,
        received_at=contact.received_at,
        body=event.payload["contact"],
        submitted_by=principal.key_id,
        event_id=event.event_id,
    )
    if not stored:
        existing = await repository.find_by_source(
            session, force=contact.force, system=contact.source.system, reference=contact.source.reference
        )
        return Receipt(Accepted.DUPLICATE_SOURCE, contact_id=existing, status_code=409)
    uow.emit(topics.CONTACTS, event)
    response = response_for(contact_id)
    await repository.save_key(
        session,
        client_id=principal.key_id,
        key=idempotency_key,
        request_sha256=fingerprint,
        status_code=201,
        response=response,
        contact_id=contact_id,
    )
    return Receipt(Accepted.CREATED, contact_id, 201, response)


async def note_decision(uow: UnitOfWork, envelope: Envelope, decided: ContactDecided) -> None:
    """Follows the recorder's decision on one of our contacts, so callers can see it on the contact."""
    await repository.mark_decided(
        uow.session,
        contact_id=decided.contact_id,
        outcome=decided.outcome.value,
        crime_references=list(decided.crime_references),
        decided_at=decided.decided_at,
    )


async def expire_idempotency_keys(uow: UnitOfWork, *, keep: timedelta) -> int:
    """Forgets idempotency keys older than `keep` (never less than 24 hours, by settings)."""
    return await repository.delete_expired_keys(uow.session, older_than=clock.now() - keep)
