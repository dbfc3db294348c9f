"""The recorder's decisions: record the crimes a contact discloses at first contact, and keep every later change
to a record accountable. Expected refusals are returned (`Refused`), never raised; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from schemas import topics
from schemas.catalogue import AuditCategory, OffenceCatalogue
from schemas.contacts import ContactCreate, ReportedOffence, ReporterRelationship
from schemas.envelope import Envelope
from schemas.events import (
    Actor,
    AuthorityMode,
    CancellationCode,
    CancellationGrounds,
    ContactDecided,
    ContactReceived,
    CrimeCancellationRejected,
    CrimeCancellationRequested,
    CrimeCancelled,
    CrimeReclassified,
    CrimeRecorded,
    CrimeTransferred,
    EventPayload,
    N100Recorded,
    Outcome,
    VictimNotified,
    envelope_for,
)
from services.recorder import repository
from services.recorder.rules.authority import AuthorityPolicy, authority_problem
from services.recorder.rules.cancellation import grounds_problems
from services.recorder.rules.decision import Decision, decide, rules_version
from services.runtime import clock
from services.runtime.messaging import UnitOfWork

PRODUCER = "recorder"


@dataclass(frozen=True)
class Refused:
    """Why a request was not carried out: an HTTP-like status, a title and what exactly is wrong."""

    status: int
    title: str
    detail: str
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecorderPolicy:
    """What the recorder applies: the catalogue, the recording limit, and each force's authority policy."""

    catalogue: OffenceCatalogue
    limit: timedelta
    authority: AuthorityPolicy
    force_authority: dict[str, AuthorityPolicy]

    def authority_for(self, force: str) -> AuthorityPolicy:
        """A force's cancellation authority policy (its own, or the default)."""
        return self.force_authority.get(force, self.authority)


def crime_reference(force: str, year: int, number: int) -> str:
    """A readable, URL-safe crime reference number unique per force and year: `GMP-2026-000123`."""
    return f"{force}-{year}-{number:06d}"


class _Events:
    """Emits events of one unit of work, all keyed by the contact and caused by what caused the work."""

    def __init__(
        self, uow: UnitOfWork, *, correlation_id: UUID, causation_id: UUID | None = None, at: datetime | None = None
    ) -> None:
        self.uow, self.correlation_id, self.causation_id = uow, correlation_id, causation_id
        self.at = at or clock.now()

    def emit(self, payload: EventPayload) -> None:
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


async def record_contacts(
    uow: UnitOfWork, received: Sequence[tuple[Envelope, ContactReceived]], *, policy: RecorderPolicy
) -> None:
    """Decides a run of received contacts by the rules and records their crimes, N100s and transfers, at once:
    one statement per table for the whole run, references allocated once per force and year."""
    session = uow.session
    new = await repository.store_contacts(
        session,
        [
            {
                "contact_id": p.contact_id,
                "force": p.force,
                "received_at": p.received_at,
                "body": e.payload["contact"],  # as received: the event's JSON, not dumped again
                "event_id": e.event_id,
            }
            for e, p in received
        ],
    )
    # Live, a run is decided at one moment, as it commits at one (and the rows then share their times, which go to
    # the database once); in a simulation each contact is decided at its own time.
    live = None if clock.simulating() else clock.now()
    plans: list[tuple[Envelope, ContactReceived, Decision, datetime]] = []
    for envelope, payload in received:
        if payload.contact_id in new:  # not decided before (a contact delivered twice is decided once)
            new.discard(payload.contact_id)
            decision = decide(payload.contact, catalogue=policy.catalogue, limit=policy.limit)
            plans.append((envelope, payload, decision, live or clock.when_handling(envelope.occurred_at)))
    # Crime references are numbered last. Allocating them locks the force's counter row until commit (numbers
    # without gaps), so whatever follows is done by one recorder process at a time. Everything is built first under
    # provisional references and what needs none is written (decisions, N100s, which at first contact name no
    # crime); then the numbers are allocated, the crimes and their events renumbered, and only the crimes and the
    # outbox are written while the counter is held.
    provisional: dict[tuple[str, int], int] = {}
    writes = _Writes()
    staged_before = len(uow.staged)
    for envelope, payload, decision, now in plans:
        events = _Events(uow, correlation_id=envelope.correlation_id, causation_id=envelope.event_id, at=now)
        key = (payload.force, now.year)
        first = provisional.get(key, 0) + 1
        provisional[key] = first + len(decision.crimes) - 1
        references = [crime_reference(payload.force, now.year, n) for n in range(first, provisional[key] + 1)]
        _record_crimes(
            writes, events, contact=payload.contact, contact_id=payload.contact_id, decision=decision,
            references=references, by=None, now=now, policy=policy,
        )  # fmt: skip
        writes.decisions.append(
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
            }
        )
        writes.decision_history.append(
            {"contact_id": payload.contact_id, "at": now, "outcome": decision.outcome.value, "by_principal": None,
             "rationale": decision.rationale}
        )  # fmt: skip
        if decision.n100:
            _record_n100(
                writes, events, contact=payload.contact, contact_id=payload.contact_id, reason=decision.rationale,
                crime_reference=None, by=None, now=now, catalogue=policy.catalogue,
            )  # fmt: skip
        events.emit(
            _decided(
                payload.contact_id, payload.force, payload.received_at, decision, references, None, now,
                credible_evidence=payload.contact.credible_evidence_to_contrary,
            )
        )  # fmt: skip
    await repository.insert_rows(
        session, decisions=writes.decisions, decision_history=writes.decision_history, n100s=writes.n100s
    )
    final: dict[str, str] = {}
    for (force, year), count in sorted(provisional.items()):  # one order for every process: no deadlock
        if count:
            allocated = await repository.allocate_crime_references(session, force=force, year=year, count=count)
            final |= {
                crime_reference(force, year, n): crime_reference(force, year, number)
                for n, number in enumerate(allocated, 1)
            }
    for row in (*writes.crimes, *writes.crime_history):
        row["crime_reference"] = final[row["crime_reference"]]
    for _, event in uow.staged[staged_before:]:
        _renumber(event.payload, final)
    await repository.insert_rows(session, crimes=writes.crimes, crime_history=writes.crime_history)


def _renumber(payload: dict[str, Any], final: dict[str, str]) -> None:
    """Replaces an event's provisional crime references by the allocated ones (in the payload this run built)."""
    if payload.get("crime_reference") is not None:
        payload["crime_reference"] = final[payload["crime_reference"]]
    if payload.get("crime_references"):
        payload["crime_references"] = [final[r] for r in payload["crime_references"]]


@dataclass
class _Writes:
    """The rows a unit of work adds, gathered so each table gets one statement."""

    crimes: list[dict[str, Any]] = field(default_factory=list)
    crime_history: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    decision_history: list[dict[str, Any]] = field(default_factory=list)
    n100s: list[dict[str, Any]] = field(default_factory=list)

    async def flush(self, session: AsyncSession) -> None:
        """Inserts what was gathered (part of the open transaction)."""
        await repository.insert_rows(
            session,
            crimes=self.crimes,
            crime_history=self.crime_history,
            decisions=self.decisions,
            decision_history=self.decision_history,
            n100s=self.n100s,
        )


async def _allocate(session: AsyncSession, *, force: str, now: datetime, count: int) -> list[str]:
    numbers = await repository.allocate_crime_references(session, force=force, year=now.year, count=count)
    return [crime_reference(force, now.year, n) for n in numbers]


def _decided(
    contact_id: UUID,
    force: str,
    received_at: datetime,
    decision: Decision,
    references: list[str],
    by: Actor | None,
    now: datetime,
    credible_evidence: str | None = None,
) -> ContactDecided:
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


def _record_crimes(
    writes: _Writes,
    events: _Events,
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
        events.emit(
            CrimeRecorded(
                crime_reference=reference,
                contact_id=contact_id,
                force=contact.force,
                victim_ref=row["victim_ref"],
                ho_class=row["ho_class"],
                offence_group=row["offence_group"],
                audit_category=row["audit_category"],
                incident_ref=row["incident_ref"],
                offender_ref=row["offender_ref"],
                received_at=contact.received_at,
                recorded_at=now,
                recording_deadline=decision.recording_deadline,
                transfer_to=decision.transfer_to,
                rules_version=decision.rules_version,
                recorded_by=by,
            )
        )
        if decision.transfer_to:
            _transfer_by_rules(writes, events, row=row, receiving_force=decision.transfer_to, now=now)


def _transfer_by_rules(
    writes: _Writes, events: _Events, *, row: dict[str, Any], receiving_force: str, now: datetime
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


def _record_n100(
    writes: _Writes,
    events: _Events,
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


# ------------------------------------------------------------------------------------ pending decisions


def _unit(victim_ref: str | None, ho_class: str, incident_ref: str | None) -> tuple[str | None, ...]:
    """What a crime counts once for: a victim in an incident, or (no victim) an offence in an incident."""
    return ("victim", victim_ref, incident_ref) if victim_ref is not None else ("state", ho_class, incident_ref)


@dataclass(frozen=True)
class Resolution:
    """A person's decision on a pending contact."""

    outcome: Outcome
    rationale: str
    offences: Sequence[ReportedOffence] = ()
    credible_evidence: str | None = None
    closing_category: str | None = None


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
    body = await repository.get_contact_body(session, contact_id)
    assert body is not None
    contact = ContactCreate.model_validate(body)
    now = clock.now()
    decision: Decision
    match resolution.outcome:
        case Outcome.RECORDED:
            refs = {v.ref for v in contact.victims}
            errors = [
                (f"offences.{i}.victim_ref", f"{o.victim_ref} is not a victim of this contact")
                for i, o in enumerate(resolution.offences)
                if o.victim_ref is not None and o.victim_ref not in refs
            ]
            if errors:
                return Refused(422, "Request is not valid", "; ".join(m for _, m in errors), tuple(errors))
            # The person has confirmed the facts; the rules still do the counting (HOCR sections D to F).
            confirmed = contact.model_copy(
                update={
                    "offences": list(resolution.offences),
                    "victims": [v.model_copy(update={"identified": True, "confirmed": True}) for v in contact.victims],
                    "reporter": contact.reporter.model_copy(update={"relationship": ReporterRelationship.POLICE}),
                    "credible_evidence_to_contrary": None,
                }
            )
            counted = decide(confirmed, catalogue=policy.catalogue, limit=policy.limit)
            if counted.outcome is not Outcome.RECORDED or not counted.crimes:
                problems = counted.problems or (counted.rationale,)
                return Refused(
                    422, "Cannot record these offences", "; ".join(problems),
                    tuple(("offences", p) for p in problems),
                )  # fmt: skip
            # A mixed contact already has the crimes first contact could record; one crime per victim per
            # incident (HOCR D, E) means those units are not recorded again (a class change is a reclassification).
            existing = await repository.list_crimes(session, force=by.force, contact_id=contact_id, limit=500)
            recorded_units = {_unit(c.victim_ref, c.ho_class, c.incident_ref) for c in existing}
            new_crimes = tuple(
                c for c in counted.crimes if _unit(c.victim_ref, c.ho_class, c.incident_ref) not in recorded_units
            )
            if not new_crimes:
                return Refused(
                    422, "Already recorded",
                    "Every crime these offences amount to is already recorded for this contact; to change a class, "
                    "reclassify the crime.",
                    (("offences", "already recorded: " + ", ".join(c.crime_reference for c in existing)),),
                )  # fmt: skip
            decision = Decision(
                outcome=Outcome.RECORDED,
                crimes=new_crimes,
                rationale=resolution.rationale,
                recording_deadline=current.recording_deadline,  # the clock never resets
                transfer_to=counted.transfer_to,
                n100=counted.n100 or current.n100,
                rules_version=counted.rules_version,
            )
        case Outcome.CRI:
            if not (resolution.credible_evidence or "").strip():
                return Refused(
                    422, "Request is not valid", "A CRI needs the credible evidence to the contrary.",
                    (("credible_evidence", "required for a crime-related incident"),),
                )  # fmt: skip
            decision = Decision(
                outcome=Outcome.CRI,
                crimes=(),
                rationale=f"{resolution.rationale} Credible evidence to the contrary: {resolution.credible_evidence}",
                recording_deadline=current.recording_deadline,
                n100=current.n100,
                rules_version=rules_version(policy.catalogue),
            )
        case Outcome.NON_CRIME:
            if not (resolution.closing_category or "").strip():
                return Refused(
                    422, "Request is not valid", "A non-crime decision needs the NSIR closing category.",
                    (("closing_category", "required for a non-crime incident"),),
                )  # fmt: skip
            decision = Decision(
                outcome=Outcome.NON_CRIME,
                crimes=(),
                rationale=f"{resolution.rationale} NSIR closing category: {resolution.closing_category}",
                recording_deadline=current.recording_deadline,
                n100=current.n100,
                rules_version=rules_version(policy.catalogue),
            )
        case Outcome.N100:
            decision = Decision(
                outcome=Outcome.N100,
                crimes=(),
                rationale=resolution.rationale,
                recording_deadline=current.recording_deadline,
                n100=True,
                rules_version=rules_version(policy.catalogue),
            )
        case _:
            return Refused(422, "Request is not valid", "A pending contact cannot be decided as pending again.")
    events = _Events(uow, correlation_id=contact_id)
    writes = _Writes()
    references = await _allocate(session, force=contact.force, now=now, count=len(decision.crimes))
    _record_crimes(
        writes, events, contact=contact, contact_id=contact_id, decision=decision, references=references, by=by,
        now=now, policy=policy,
    )  # fmt: skip
    await repository.update_decision(
        session,
        contact_id,
        outcome=decision.outcome.value,
        rationale=decision.rationale,
        problems=[],
        rules_version=decision.rules_version,
        decided_at=now,
        decided_by=by.principal,
        transfer_to=decision.transfer_to,
        n100=decision.n100,
    )
    await repository.add_decision_history(
        session, contact_id=contact_id, at=now, outcome=decision.outcome.value, by=by.principal,
        rationale=decision.rationale,
    )  # fmt: skip
    if decision.n100 and not current.n100:
        _record_n100(
            writes, events, contact=contact, contact_id=contact_id, reason=decision.rationale, crime_reference=None,
            by=by, now=now, catalogue=policy.catalogue,
        )  # fmt: skip
    await writes.flush(session)
    events.emit(
        _decided(
            contact_id, current.force, current.received_at, decision, references, by, now,
            credible_evidence=resolution.credible_evidence,
        )
    )  # fmt: skip
    return decision


# -------------------------------------------------------------------------------------------- crime life


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
    events = _Events(uow, correlation_id=crime.contact_id)
    events.emit(event)
    if crime.audit_category == AuditCategory.RAPE.value and offence.audit_category is not AuditCategory.RAPE:
        body = await repository.get_contact_body(uow.session, crime.contact_id)
        assert body is not None
        writes = _Writes()
        _record_n100(
            writes, events, contact=ContactCreate.model_validate(body), contact_id=crime.contact_id,
            reason=f"Reclassified from {crime.ho_class} to {new_class}: {reason}", crime_reference=crime_reference,
            by=by, now=now, catalogue=policy.catalogue,
        )  # fmt: skip
        await writes.flush(uow.session)
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
    request_id = uuid4()
    stored = await repository.insert_cancellation_request(
        session,
        {
            "request_id": request_id,
            "crime_reference": crime_reference,
            "contact_id": crime.contact_id,
            "force": crime.force,
            "code": grounds.code.value,
            "grounds": grounds.model_dump(mode="json"),
            "requested_by": by.model_dump(mode="json"),
            "requested_at": now,
            "victim_informed": victim_informed,
            "victim_informed_at": victim_informed_at,
            "status": "pending",
        },
    )
    if not stored:
        return Refused(409, "Request already open", f"{crime_reference} already has an open cancellation request.")
    event = CrimeCancellationRequested(
        contact_id=crime.contact_id,
        request_id=request_id,
        crime_reference=crime_reference,
        force=crime.force,
        ho_class=crime.ho_class,
        audit_category=AuditCategory(crime.audit_category),
        grounds=grounds,
        requested_by=by,
        requested_at=now,
        victim_informed=victim_informed,
        victim_informed_at=victim_informed_at,
    )
    await repository.add_crime_history(
        session, crime_reference=crime_reference, at=now, event_type=event.EVENT_TYPE, by=by.principal,
        detail={"request_id": str(request_id), "grounds": grounds.model_dump(mode="json")},
    )  # fmt: skip
    _Events(uow, correlation_id=crime.contact_id).emit(event)
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
    audit_category = AuditCategory(crime.audit_category)
    if by.principal == requester.principal:
        # A different person decides, whatever the force's authority mode (domain.md: never the requester).
        return Refused(
            403, "Not authorised", f"Cannot decide request {request_id}: the person who asked cannot decide it."
        )
    problem = authority_problem(authority, audit_category=audit_category, requester=requester, authoriser=by)
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
    events = _Events(uow, correlation_id=crime.contact_id)
    status = "approved" if approve else "rejected"
    await repository.update_cancellation_request(
        session, request_id, status=status, decided_by=by.model_dump(mode="json"), decided_at=now, decision_note=note
    )
    if not approve:
        event: EventPayload = CrimeCancellationRejected(
            contact_id=crime.contact_id, request_id=request_id, crime_reference=crime.crime_reference,
            force=crime.force, rejected_by=by, rejected_at=now, reason=note,
        )  # fmt: skip
        await repository.add_crime_history(
            session, crime_reference=crime.crime_reference, at=now, event_type=event.EVENT_TYPE, by=by.principal,
            detail={"request_id": str(request_id), "reason": note},
        )  # fmt: skip
        events.emit(event)
        return status
    transfer = grounds.code is CancellationCode.C1
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
    removal: CrimeCancelled | CrimeTransferred
    if transfer:
        assert grounds.receiving_force is not None
        removal = CrimeTransferred(**common, receiving_force=grounds.receiving_force)
    else:
        removal = CrimeCancelled(**common)
    await repository.update_crime(
        session, crime.crime_reference, status="transferred" if transfer else "cancelled",
        transfer_to=grounds.receiving_force if transfer else crime.transfer_to,
    )  # fmt: skip
    await repository.add_crime_history(
        session, crime_reference=crime.crime_reference, at=now, event_type=removal.EVENT_TYPE, by=by.principal,
        detail={"request_id": str(request_id), "note": note, "authority_problem": problem},
    )  # fmt: skip
    events.emit(removal)
    if transfer and audit_category is AuditCategory.RAPE:
        body = await repository.get_contact_body(session, crime.contact_id)
        assert body is not None
        writes = _Writes()
        _record_n100(
            writes, events, contact=ContactCreate.model_validate(body), contact_id=crime.contact_id,
            reason=f"Rape transferred to {grounds.receiving_force}; the N100 stays behind.",
            crime_reference=crime.crime_reference, by=by, now=now, catalogue=policy.catalogue,
        )  # fmt: skip
        await writes.flush(session)
    return status


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
    _Events(uow, correlation_id=crime.contact_id).emit(event)
    return None
