"""Intake's decisions: accept a contact once, durably, and publish it; follow what the recorder decided."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast
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


@dataclass(frozen=True)
class Submission:
    """A contact POSTed with its idempotency key, ready to store: its fingerprint, the `contact.received` event it
    would publish and the answer it would get if it is new."""

    contact: ContactCreate
    principal: Principal
    idempotency_key: str
    fingerprint: bytes
    event: Envelope
    response: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """Idempotency keys are scoped to the calling client."""
        return self.principal.key_id, self.idempotency_key

    @property
    def contact_id(self) -> UUID:
        """The id the contact gets if it is new."""
        return self.event.contact_id


def submission(*, contact: ContactCreate, principal: Principal, idempotency_key: str, response_for: Any) -> Submission:
    """A POSTed contact made ready to store, with the id, event and answer it gets if it is new."""
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
    return Submission(
        contact, principal, idempotency_key, request_fingerprint(contact), event, response_for(contact_id)
    )


def _sort_out(
    submissions: Sequence[Submission],
    first: dict[tuple[str, str], int],
    locked: Any,
    earlier: Any,
    receipts: list[Receipt | None],
) -> list[Submission]:
    """Answers the submissions whose key was seen before (a replay, or a reuse with another body) or is still being
    handled elsewhere; returns those left to store."""
    fresh: list[Submission] = []
    for i, sub in enumerate(submissions):
        if (stored := earlier.get(sub.key)) is not None:
            if stored.request_sha256 != sub.fingerprint:
                receipts[i] = Receipt(Accepted.KEY_REUSED, contact_id=stored.contact_id, status_code=422)
            else:
                receipts[i] = Receipt(Accepted.REPLAYED, stored.contact_id, stored.status_code, stored.response)
        elif sub.key not in locked or first[sub.key] != i:
            receipts[i] = Receipt(Accepted.KEY_IN_FLIGHT, status_code=409)
        else:
            fresh.append(sub)
    return fresh


async def receive_contacts(uow: UnitOfWork, submissions: Sequence[Submission]) -> list[Receipt]:
    """Stores new contacts, their idempotency records and their `contact.received` events in one transaction, and
    says what became of each submission (in order). Within one call, as between calls, the first submission of a key
    or a source reference is the one stored; those that come with it are answered as if they had come just after."""
    session = uow.session
    first: dict[tuple[str, str], int] = {}
    for i, sub in enumerate(submissions):
        first.setdefault(sub.key, i)
    locked = await repository.lock_keys(session, list(first))
    earlier = await repository.find_keys(session, locked)
    receipts: list[Receipt | None] = [None] * len(submissions)
    fresh = _sort_out(submissions, first, locked, earlier, receipts)
    inserted = await repository.insert_contacts(
        session,
        [
            {
                "contact_id": sub.contact_id,
                "force": sub.contact.force,
                "source_system": sub.contact.source.system,
                "source_reference": sub.contact.source.reference,
                "received_at": sub.contact.received_at,
                "body": sub.event.payload["contact"],
                "submitted_by": sub.principal.key_id,
                "event_id": sub.event.event_id,
            }
            for sub in fresh
        ],
    )
    keys = []
    for sub in fresh:
        i = first[sub.key]
        if sub.contact_id in inserted:
            uow.emit(topics.CONTACTS, sub.event)
            keys.append(
                {
                    "client_id": sub.principal.key_id,
                    "key": sub.idempotency_key,
                    "request_sha256": sub.fingerprint,
                    "status_code": 201,
                    "response": sub.response,
                    "contact_id": sub.contact_id,
                }
            )
            receipts[i] = Receipt(Accepted.CREATED, sub.contact_id, 201, sub.response)
        else:
            existing = await repository.find_by_source(
                session,
                force=sub.contact.force,
                system=sub.contact.source.system,
                reference=sub.contact.source.reference,
            )
            receipts[i] = Receipt(Accepted.DUPLICATE_SOURCE, contact_id=existing, status_code=409)
    await repository.save_keys(session, keys)
    assert None not in receipts
    return cast(list[Receipt], receipts)


async def note_decision(uow: UnitOfWork, envelope: Envelope, decided: ContactDecided) -> None:
    """Follows the recorder's decision on one of our contacts, so callers can see it on the contact; a request
    waiting for it (`Prefer: wait`) is told once this commits."""
    ours = await repository.mark_decided(
        uow.session,
        contact_id=decided.contact_id,
        outcome=decided.outcome.value,
        crime_references=list(decided.crime_references),
        decided_at=decided.decided_at,
    )
    if ours:
        await repository.notify_decided(uow.session, [decided.contact_id])


async def expire_idempotency_keys(uow: UnitOfWork, *, keep: timedelta) -> int:
    """Forgets idempotency keys older than `keep` (never less than 24 hours, by settings)."""
    return await repository.delete_expired_keys(uow.session, older_than=clock.now() - keep)
