"""What every recorder decision writes: crime rows and `crime.recorded`, rule transfers, N100s and `contact.decided`,
gathered per unit of work so each table gets one statement. Expected refusals are returned (`Refused`), never raised;
the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from schemas import topics
from schemas.catalogue import AuditCategory, OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import (
    Actor,
    AuthorityMode,
    CancellationCode,
    CancellationGrounds,
    ContactDecided,
    CrimeRecorded,
    CrimeTransferred,
    EventPayload,
    N100Recorded,
    Outcome,
    envelope_for,
)
from services.recorder import repository
from services.recorder.rules.authority import AuthorityPolicy
from services.recorder.rules.decision import Decision
from services.recorder.screening_model import Screener
from services.runtime import clock
from services.runtime.messaging import UnitOfWork

PRODUCER = "recorder"


@dataclass(frozen=True)
class RecorderPolicy:
    """What the recorder applies: the catalogue, the recording limit, each force's authority policy, and the
    narrative screener."""

    catalogue: OffenceCatalogue
    limit: timedelta
    authority: AuthorityPolicy
    force_authority: dict[str, AuthorityPolicy]
    screener: Screener | None = None
    """The narrative screener loaded at start-up; None screens nothing (tools and tests of the rules alone)."""

    def authority_for(self, force: str) -> AuthorityPolicy:
        """A force's cancellation authority policy (its own, or the default)."""
        return self.force_authority.get(force, self.authority)


def crime_reference(force: str, year: int, number: int) -> str:
    """A readable, URL-safe crime reference number unique per force and year: `GMP-2026-000123`."""
    return f"{force}-{year}-{number:06d}"


class Staging(Protocol):
    """Where events are staged: a unit of work, or a list kept aside to be staged in its place later."""

    def emit(self, topic: str, envelope: Envelope) -> None: ...


class Events:
    """Emits events of one unit of work, all keyed by the contact and caused by what caused the work."""

    def __init__(
        self, uow: Staging, *, correlation_id: UUID, causation_id: UUID | None = None, at: datetime | None = None
    ) -> None:
        self.uow, self.correlation_id, self.causation_id = uow, correlation_id, causation_id
        self.at = at or clock.now()

    def emit(self, payload: EventPayload) -> None:
        """Stages an event on the records topic in this unit of work's outbox."""
        self.uow.emit(
            topics.RECORDS,
            envelope_for(
                payload,
                producer=PRODUCER,
                correlation_id=self.correlation_id,
                causation_id=self.causation_id,
                occurred_at=self.at,
            ),
        )


# ------------------------------------------------------------------------------------------- first contact


@dataclass
class Writes:
    """The rows a unit of work adds, gathered so each table gets one statement."""

    crimes: list[dict[str, Any]] = field(default_factory=list)
    crime_history: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    decision_history: list[dict[str, Any]] = field(default_factory=list)
    n100s: list[dict[str, Any]] = field(default_factory=list)
    screenings: list[dict[str, Any]] = field(default_factory=list)

    async def flush(self, session: AsyncSession) -> None:
        """Inserts what was gathered (part of the open transaction)."""
        await repository.insert_rows(
            session,
            crimes=self.crimes,
            crime_history=self.crime_history,
            decisions=self.decisions,
            decision_history=self.decision_history,
            n100s=self.n100s,
            screenings=self.screenings,
        )


async def allocate_references(session: AsyncSession, *, force: str, now: datetime, count: int) -> list[str]:
    """Takes the next `count` crime references of a force's year (the counter row stays locked until commit)."""
    numbers = await repository.allocate_crime_references(session, force=force, year=now.year, count=count)
    return [crime_reference(force, now.year, n) for n in numbers]


def decided_event(
    contact_id: UUID,
    force: str,
    received_at: datetime,
    decision: Decision,
    references: list[str],
    by: Actor | None,
    now: datetime,
    credible_evidence: str | None = None,
) -> ContactDecided:
    """The `contact.decided` event of a decision."""
    return ContactDecided(
        contact_id=contact_id,
        force=force,
        outcome=decision.outcome,
        crime_references=references,
        rationale=decision.rationale,
        rules_version=decision.rules_version,
        decided_at=now,
        recording_deadline=decision.recording_deadline,
        received_at=received_at,
        decided_by=by,
        problems=list(decision.problems),
        n100=decision.n100,
        transfer_to=decision.transfer_to,
        credible_evidence=credible_evidence if decision.outcome is Outcome.CRI else None,
    )


def record_crimes(
    writes: Writes,
    events: Events,
    *,
    contact: ContactCreate,
    contact_id: UUID,
    decision: Decision,
    references: Sequence[str],
    by: Actor | None,
    now: datetime,
    policy: RecorderPolicy,
) -> None:
    """Adds the decision's crimes under the given references; transfers any committed in another force's area."""
    for reference, crime in zip(references, decision.crimes, strict=True):
        offence = policy.catalogue.get(crime.ho_class)
        assert offence is not None  # decide() records only classes the catalogue can record
        row = {
            "crime_reference": reference,
            "contact_id": contact_id,
            "force": contact.force,
            "victim_ref": crime.victim_ref,
            "ho_class": crime.ho_class,
            "offence_group": offence.group,
            "audit_category": offence.audit_category.value,
            "offender_ref": crime.offender_ref,
            "incident_ref": crime.incident_ref,
            "status": "transferred" if decision.transfer_to else "recorded",
            "received_at": contact.received_at,
            "recorded_at": now,
            "recording_deadline": decision.recording_deadline,
            "transfer_to": decision.transfer_to,
            "rules_version": decision.rules_version,
            "recorded_by": by.principal if by else None,
            "updated_at": now,
        }
        writes.crimes.append(row)
        writes.crime_history.append(
            {
                "crime_reference": reference,
                "at": now,
                "event_type": "crime.recorded",
                "by_principal": row["recorded_by"],
                "detail": {"ho_class": row["ho_class"], "rationale": decision.rationale},
            }
        )
        fields = ("crime_reference", "contact_id", "force", "victim_ref", "ho_class", "offence_group", "audit_category",
                  "incident_ref", "offender_ref", "received_at", "recorded_at", "recording_deadline", "transfer_to",
                  "rules_version")  # fmt: skip
        events.emit(CrimeRecorded(**{f: row[f] for f in fields}, recorded_by=by))
        if decision.transfer_to:
            _transfer_by_rules(writes, events, row=row, receiving_force=decision.transfer_to, now=now)


def _transfer_by_rules(
    writes: Writes, events: Events, *, row: dict[str, Any], receiving_force: str, now: datetime
) -> None:
    """HOCR: a crime committed in another force's area is recorded, then transferred (C1) to that force."""
    grounds = CancellationGrounds(
        code=CancellationCode.C1,
        explanation=f"Committed in the {receiving_force} area; transferred at first contact by the rules.",
        receiving_force=receiving_force,
    )
    writes.crime_history.append(
        {"crime_reference": row["crime_reference"], "at": now, "event_type": "crime.transferred", "by_principal": None,
         "detail": {"grounds": grounds.model_dump(mode="json")}}
    )  # fmt: skip
    events.emit(
        CrimeTransferred(
            contact_id=row["contact_id"],
            request_id=None,
            crime_reference=row["crime_reference"],
            force=row["force"],
            ho_class=row["ho_class"],
            audit_category=row["audit_category"],
            grounds=grounds,
            requested_by=None,
            requested_at=now,
            authorised_by=None,
            authorised_at=now,
            authority_required=[],
            authority_mode=AuthorityMode.ENFORCE,
            victim_informed=False,
            receiving_force=receiving_force,
        )
    )


def record_n100(
    writes: Writes,
    events: Events,
    *,
    contact: ContactCreate,
    contact_id: UUID,
    reason: str,
    crime_reference: str | None,
    by: Actor | None,
    now: datetime,
    catalogue: OffenceCatalogue,
) -> None:
    """An N100: a reported rape not recorded at once as a rape crime in this force (always kept)."""
    rape_classes = [
        o.ho_class
        for o in contact.offences
        if (offence := catalogue.get(o.ho_class)) is not None and offence.audit_category is AuditCategory.RAPE
    ]
    reported = rape_classes[0] if rape_classes else "19C"
    n100_id = uuid4()
    writes.n100s.append(
        {
            "n100_id": n100_id,
            "contact_id": contact_id,
            "force": contact.force,
            "reported_class": reported,
            "reason": reason,
            "crime_reference": crime_reference,
            "recorded_at": now,
            "recorded_by": by.principal if by else None,
        }
    )
    events.emit(
        N100Recorded(
            contact_id=contact_id,
            n100_id=n100_id,
            force=contact.force,
            reported_class=reported,
            reason=reason,
            crime_reference=crime_reference,
            recorded_at=now,
            recorded_by=by,
        )
    )


async def keep_n100_behind(
    uow: UnitOfWork, events: Events, *, crime: Any, reason: str, by: Actor, now: datetime, catalogue: OffenceCatalogue
) -> None:
    """A rape leaving this force's rape classes (reclassified or transferred) keeps an N100 behind."""
    body = await repository.get_contact_body(uow.session, crime.contact_id)
    assert body is not None
    writes = Writes()
    record_n100(
        writes, events, contact=ContactCreate.model_validate(body), contact_id=crime.contact_id, reason=reason,
        crime_reference=crime.crime_reference, by=by, now=now, catalogue=catalogue,
    )  # fmt: skip
    await writes.flush(uow.session)
