"""The auditor's work: project every event, judge it by the rules the moment a breach can be known, raise each
flag once (alerting supervisors through the outbox), and cure flags a later event mends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.envelope import Envelope
from schemas.events import (
    ContactDecided,
    ContactReceived,
    CrimeCancelled,
    CrimeReclassified,
    CrimeRecorded,
    CrimeTransferred,
    EventPayload,
    FlagRaised,
    FlagStatus,
    FlagUpdated,
    N100Recorded,
    VictimNotified,
    envelope_for,
)
from services.auditor import repository
from services.auditor.rules import detectors, statistics
from services.auditor.rules.counting import required_crimes, should_units
from services.auditor.rules.detectors import FlagDraft, Rule
from services.auditor.rules.facts import ContactState, CrimeFact, DecisionFact, Removal, ReportedFacts
from services.auditor.rules.policy import AuditPolicy
from services.runtime import clock
from services.runtime.messaging import UnitOfWork

PRODUCER = "auditor"
EVIDENCE_GIVEN = "(given)"


@dataclass(frozen=True)
class Standard:
    """What the auditor judges by: the offence catalogue and the force policy."""

    catalogue: OffenceCatalogue
    policy: AuditPolicy
    event_time: bool = False  # judge deadlines by the events' own times (replays, simulations)


# ------------------------------------------------------------------------------------------------ projection

# The events every contact brings (a report, its decision, its crimes): projected and judged a run at a time, in
# memory, with one statement per table. The rarer ones (cancellations, transfers, reclassifications, N100s,
# notifications) are handled one by one, in their place in the stream.
Projected = ContactReceived | ContactDecided | CrimeRecorded


async def on_events(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]], *, standard: Standard) -> None:
    """Projects a run of events, in order, and judges what each makes knowable, as if handled one at a time."""
    run: list[tuple[Envelope, Projected]] = []
    for envelope, payload in events:
        if isinstance(payload, Projected):
            run.append((envelope, payload))
            continue
        await _project(uow, run, standard)
        run = []
        await _on_other(uow, envelope, payload, standard)
    await _project(uow, run, standard)
    if standard.event_time and uow.watermark is not None and events:
        # Replaying: the deadlines the event time has passed — on every partition, not just this one — fire as the
        # wall clock would have fired them live. The judgement is as things stood at each deadline, by the events'
        # own times, so it does not matter that the run was projected first.
        watermark = uow.watermark(max(envelope.occurred_at for envelope, _ in events))
        if watermark is not None:
            await sweep_deadlines(uow, now=watermark, standard=standard)


async def on_event(uow: UnitOfWork, envelope: Envelope, payload: EventPayload, *, standard: Standard) -> None:
    """Projects one event and judges what it makes knowable."""
    await on_events(uow, [(envelope, payload)], standard=standard)


async def _project(uow: UnitOfWork, run: Sequence[tuple[Envelope, Projected]], standard: Standard) -> None:
    """Reports, decisions and crimes: each contact's state is read once, moved on by each event in turn in memory
    (judging it at each step exactly as one-at-a-time handling would), and written once."""
    if not run:
        return
    states = await repository.contact_states(uow.session, {payload.contact_id for _, payload in run})
    changes: dict[UUID, dict[str, Any]] = {}
    crime_rows: dict[str, dict[str, Any]] = {}
    ledger = FlagLedger()
    for envelope, payload in run:
        state = states.get(payload.contact_id) or ContactState(
            contact_id=str(payload.contact_id), force=payload.force, received_at=None, recording_deadline=None,
            facts=None, decision=None,
        )  # fmt: skip
        change = changes.setdefault(payload.contact_id, {"contact_id": payload.contact_id})
        match payload:
            case ContactReceived():
                state = _received(state, change, envelope, payload, standard, ledger)
            case ContactDecided():
                state = _decided(state, change, envelope, payload, standard, ledger)
            case CrimeRecorded():
                state = _crime_recorded(state, change, crime_rows, envelope, payload, standard, ledger)
        states[payload.contact_id] = state
    await repository.upsert_contacts(uow.session, list(changes.values()))
    await repository.upsert_crimes(uow.session, list(crime_rows.values()))
    await ledger.write(uow)


def _received(
    state: ContactState,
    change: dict[str, Any],
    envelope: Envelope,
    received: ContactReceived,
    standard: Standard,
    ledger: FlagLedger,
) -> ContactState:
    facts = ReportedFacts.of(received.contact)
    # The deadline runs from receipt (event time), never from when this event was processed.
    deadline = received.received_at + standard.policy.recording_limit
    change.update(
        force=received.force,
        category=received.contact.incident.category.value,
        channel=received.contact.channel.value,
        received_at=received.received_at,
        recording_deadline=deadline,
        expected_crimes=required_crimes(facts, standard.catalogue),
        facts=facts.to_json(),
    )
    state = replace(
        state, force=received.force, received_at=received.received_at, recording_deadline=deadline, facts=facts
    )
    if _judge_missing(state, standard, ledger):
        # The record was read before this report: it is here already, late.
        ledger.cure(Rule.MISSING_RECORD, str(received.contact_id), envelope, "recorded after the deadline")
    _judge_decision(state, envelope, standard, ledger)
    return state


def _judge_missing(state: ContactState, standard: Standard, ledger: FlagLedger) -> bool:
    """A record or decision made after the deadline shows the contact had neither when the deadline passed: that is
    MISSING_RECORD, whatever the auditor's clock had reached (it may be replaying, or behind) and in whichever order
    the report and the record are read, so a replay gives the flag live running gave. The late record cures it.
    Returns whether the contact shows that breach."""
    if state.recording_deadline is None:
        return False
    made = [c.recorded_at for c in state.crimes]
    if state.decision and state.decision.outcome in detectors.VALID_NON_RECORDING:
        made.append(state.decision.decided_at)
    if not made:
        return False
    # Judged at the latest time this contact shows: the detector finds whether anything existed at the deadline.
    drafts = detectors.missing_record(state, now=max(made), catalogue=standard.catalogue)
    ledger.raise_(drafts, force=state.force, contact_id=UUID(state.contact_id), at=state.recording_deadline)
    return bool(drafts)


def _decided(
    state: ContactState,
    change: dict[str, Any],
    envelope: Envelope,
    decided: ContactDecided,
    standard: Standard,
    ledger: FlagLedger,
) -> ContactState:
    decision = {
        "outcome": decided.outcome.value,
        "decided_at": decided.decided_at.isoformat(),
        "decided_by": decided.decided_by.principal if decided.decided_by else None,
        # Pseudonymous: only whether evidence to the contrary was given, never its words (they may name people).
        "credible_evidence": EVIDENCE_GIVEN if (decided.credible_evidence or "").strip() else None,
        "event_id": str(envelope.event_id),
    }
    change.update(force=decided.force, outcome=decided.outcome.value, decided_at=decided.decided_at, decision=decision)
    state = replace(state, force=decided.force, decision=DecisionFact.from_json(decision))
    _judge_missing(state, standard, ledger)
    if decided.outcome.value in detectors.VALID_NON_RECORDING:
        ledger.cure(Rule.MISSING_RECORD, str(decided.contact_id), envelope, f"decided as {decided.outcome.value}")
    _judge_decision(state, envelope, standard, ledger)
    return state


def _judge_decision(state: ContactState, envelope: Envelope, standard: Standard, ledger: FlagLedger) -> None:
    """The rules that can be judged once both the report and the decision are known (in either order)."""
    if state.facts is None or state.decision is None:
        return
    drafts = [
        *detectors.under_count(state, catalogue=standard.catalogue),
        *detectors.unjustified_non_crime(state, catalogue=standard.catalogue),
        *detectors.rape_without_n100(state, catalogue=standard.catalogue),
    ]
    ledger.raise_(
        drafts, force=state.force, contact_id=UUID(state.contact_id), at=envelope.occurred_at, envelope=envelope
    )


def _crime_recorded(
    state: ContactState,
    change: dict[str, Any],
    crime_rows: dict[str, dict[str, Any]],
    envelope: Envelope,
    crime: CrimeRecorded,
    standard: Standard,
    ledger: FlagLedger,
) -> ContactState:
    # The auditor's own deadline, from the report's receipt: a records system that restarts the clock is caught.
    deadline = crime.received_at + standard.policy.recording_limit
    crime_rows[crime.crime_reference] = {
        "crime_reference": crime.crime_reference,
        "contact_id": crime.contact_id,
        "force": crime.force,
        "ho_class": crime.ho_class,
        "audit_category": crime.audit_category.value,
        "status": "recorded",
        "victim_ref": crime.victim_ref,
        "incident_ref": crime.incident_ref,
        "recorded_at": crime.recorded_at,
        "recording_deadline": deadline,
        "received_at": crime.received_at,
    }
    # The contact row may not exist yet (records and contacts are different topics): make sure it does.
    change.setdefault("force", crime.force)
    fact = CrimeFact(
        crime.crime_reference, crime.ho_class, crime.audit_category.value, "recorded", crime.recorded_at, deadline
    )
    others = [c for c in state.crimes if c.crime_reference != crime.crime_reference]
    state = replace(state, crimes=tuple(sorted([*others, fact], key=lambda c: c.crime_reference)))
    _judge_missing(state, standard, ledger)
    ledger.raise_(
        detectors.late_record(state, fact), force=crime.force, contact_id=crime.contact_id, at=crime.recorded_at,
        envelope=envelope,
    )  # fmt: skip
    ledger.cure(Rule.MISSING_RECORD, str(crime.contact_id), envelope, f"{crime.crime_reference} was recorded")
    if state.facts is not None and len(state.crimes) >= required_crimes(state.facts, standard.catalogue):
        ledger.cure(Rule.UNDER_COUNT, str(crime.contact_id), envelope, "the missing crimes were recorded")
    if crime.audit_category.value == "rape":
        ledger.cure(Rule.RAPE_WITHOUT_N100, str(crime.contact_id), envelope, "recorded as rape")
    return state


async def _on_other(uow: UnitOfWork, envelope: Envelope, payload: EventPayload, standard: Standard) -> None:
    match payload:
        case CrimeCancelled() | CrimeTransferred():
            await _removed(uow, envelope, payload, standard)
        case CrimeReclassified():
            await _reclassified(uow, envelope, payload, standard)
        case N100Recorded():
            await repository.insert_n100(
                uow.session, n100_id=payload.n100_id, contact_id=payload.contact_id, force=payload.force,
                recorded_at=payload.recorded_at,
            )  # fmt: skip
            await cure(uow, Rule.RAPE_WITHOUT_N100, str(payload.contact_id), envelope, "an N100 was recorded")
        case VictimNotified():
            await repository.insert_notification(
                uow.session, event_id=envelope.event_id, crime_reference=payload.crime_reference,
                notified_at=payload.notified_at,
            )  # fmt: skip
            ledger = FlagLedger()
            for removal in await repository.removals_of(uow.session, payload.crime_reference):
                if payload.notified_at <= removal.notify_by:
                    ledger.cure(
                        Rule.CANCELLATION_VICTIM_NOT_TOLD, str(removal.event_id), envelope,
                        f"the victim was told on {payload.notified_at.isoformat()}",
                    )  # fmt: skip
            await ledger.write(uow)


async def _removed(
    uow: UnitOfWork, envelope: Envelope, removal: CrimeCancelled | CrimeTransferred, standard: Standard
) -> None:
    kind = "transferred" if isinstance(removal, CrimeTransferred) else "cancelled"
    session = uow.session
    duplicate = removal.grounds.duplicate_of
    live = set()
    if duplicate and await repository.crime_is_live(session, crime_reference=duplicate, force=removal.force):
        live.add(duplicate)
    fact = Removal(
        event_id=str(envelope.event_id),
        kind=kind,
        crime_reference=removal.crime_reference,
        contact_id=str(removal.contact_id),
        force=removal.force,
        ho_class=removal.ho_class,
        audit_category=removal.audit_category.value,
        code=removal.grounds.code.value,
        grounds=removal.grounds.model_dump(mode="json"),
        request_id=str(removal.request_id) if removal.request_id else None,
        requested_by=removal.requested_by.model_dump(mode="json") if removal.requested_by else None,
        authorised_by=removal.authorised_by.model_dump(mode="json") if removal.authorised_by else None,
        authority_mode=removal.authority_mode.value,
        removed_at=removal.authorised_at,
        victim_informed=removal.victim_informed,
        victim_informed_at=removal.victim_informed_at,
    )
    grounds = detectors.cancellation_without_grounds(fact, live_crimes=live)
    authority = detectors.cancellation_wrong_authority(fact, policy=standard.policy)
    await repository.update_crime(session, removal.crime_reference, status=kind)
    await repository.insert_removal(
        session,
        event_id=envelope.event_id,
        crime_reference=removal.crime_reference,
        contact_id=removal.contact_id,
        force=removal.force,
        kind=kind,
        code=fact.code,
        audit_category=fact.audit_category,
        ho_class=removal.ho_class,
        removed_at=fact.removed_at,
        notify_by=fact.removed_at + standard.policy.victim_notice,
        victim_told=bool(removal.victim_informed),
        judged_correct=not grounds and not authority,
        detail={
            "grounds": fact.grounds,
            "requested_by": fact.requested_by,
            "authorised_by": fact.authorised_by,
            "authority_mode": fact.authority_mode,
            "request_id": fact.request_id,
            "victim_informed_at": fact.victim_informed_at.isoformat() if fact.victim_informed_at else None,
        },
    )
    drafts = [*grounds, *authority, *detectors.high_risk_cancellation(fact)]
    await raise_flags(
        uow, drafts, force=removal.force, contact_id=removal.contact_id, at=removal.authorised_at, envelope=envelope
    )


async def _reclassified(uow: UnitOfWork, envelope: Envelope, change: CrimeReclassified, standard: Standard) -> None:
    await repository.update_crime(
        uow.session, change.crime_reference, ho_class=change.new_class, audit_category=change.new_audit_category.value
    )
    drafts = detectors.downgrade(
        contact_id=str(change.contact_id),
        crime_reference=change.crime_reference,
        event_id=str(envelope.event_id),
        previous_class=change.previous_class,
        new_class=change.new_class,
        new_information=change.new_information,
        catalogue=standard.catalogue,
    )
    for draft in drafts:
        draft.evidence["reclassified_by"] = change.reclassified_by.model_dump(mode="json")
        draft.evidence["reason"] = change.reason
    await raise_flags(
        uow, drafts, force=change.force, contact_id=change.contact_id, at=change.reclassified_at, envelope=envelope
    )


# ------------------------------------------------------------------------------------------------ deadlines


async def sweep_deadlines(uow: UnitOfWork, *, now: datetime, standard: Standard) -> int:
    """Judges every contact whose recording deadline, and every removal whose victim-notice limit, `now` has
    passed; returns how many it judged."""
    session = uow.session
    ledger = FlagLedger()
    due = await repository.contacts_due(session, now=now)
    states = await repository.contact_states(session, due)
    for contact_id in due:
        state = states.get(contact_id)
        if state is None or state.recording_deadline is None:
            continue
        drafts = detectors.missing_record(state, now=now, catalogue=standard.catalogue)
        ledger.raise_(drafts, force=state.force, contact_id=contact_id, at=state.recording_deadline)
    if due:
        await repository.mark_deadline_checked(session, due)
    removals = await repository.removals_due(session, now=now)
    told = await repository.notifications_for(session, {row.crime_reference for row in removals})
    for row in removals:
        drafts = detectors.victim_not_told(
            _removal_fact(row), notified_at=told.get(row.crime_reference, []), now=now, policy=standard.policy
        )
        ledger.raise_(drafts, force=row.force, contact_id=row.contact_id, at=row.notify_by)
    if removals:
        await repository.mark_notice_checked(session, [r.event_id for r in removals])
    await ledger.write(uow)
    return len(due) + len(removals)


def _removal_fact(row: Row[Any]) -> Removal:
    detail = row.detail
    return Removal(
        event_id=str(row.event_id),
        kind=row.kind,
        crime_reference=row.crime_reference,
        contact_id=str(row.contact_id),
        force=row.force,
        ho_class=row.ho_class,
        audit_category=row.audit_category,
        code=row.code,
        grounds=detail["grounds"],
        request_id=detail.get("request_id"),
        requested_by=detail.get("requested_by"),
        authorised_by=detail.get("authorised_by"),
        authority_mode=detail.get("authority_mode", "enforce"),
        removed_at=row.removed_at,
        victim_informed=row.victim_told,
        victim_informed_at=datetime.fromisoformat(told) if (told := detail.get("victim_informed_at")) else None,
    )


# ------------------------------------------------------------------------------------------------ flags

CURABLE = frozenset({FlagStatus.OPEN.value, FlagStatus.ACKNOWLEDGED.value})


def flag_payload(
    flag: Mapping[str, Any], model: type[FlagRaised] | type[FlagUpdated], note: str | None
) -> EventPayload:
    """A flag as published on the alerts topic."""
    return model(
        contact_id=flag["contact_id"],
        flag_id=flag["flag_id"],
        rule=flag["rule"],
        severity=flag["severity"],
        force=flag["force"],
        crime_reference=flag["crime_reference"],
        audit_category=flag["audit_category"],
        explanation=flag["explanation"],
        evidence=flag["evidence"],
        raised_at=flag["raised_at"],
        status=FlagStatus(flag["status"]),
        resolution=flag["resolution"],
        note=note,
    )


@dataclass(frozen=True)
class FlagChange:
    """One step in a flag's life, to be kept in its history and announced to supervisors."""

    flag: Mapping[str, Any]  # the flag as it stood after the step
    at: datetime
    by: str | None = None
    note: str | None = None
    cause: Envelope | None = None


async def publish(uow: UnitOfWork, changes: Sequence[FlagChange]) -> None:
    """Keeps each change in its flag's history, the resumable alert stream and the alerts topic (outbox)."""
    history, stream = [], []
    for change in changes:
        flag = change.flag
        raised = flag["status"] == FlagStatus.OPEN.value and change.by is None
        payload = flag_payload(flag, FlagRaised if raised else FlagUpdated, change.note)
        cause = change.cause
        uow.emit(
            topics.ALERTS,
            envelope_for(
                payload,
                producer=PRODUCER,
                correlation_id=cause.correlation_id if cause else flag["contact_id"],
                causation_id=cause.event_id if cause else None,
                occurred_at=clock.when_handling(cause.occurred_at) if cause else clock.now(),
            ),
        )
        history.append(
            {"flag_id": flag["flag_id"], "at": change.at, "status": flag["status"], "by_principal": change.by,
             "note": None if raised else change.note}
        )  # fmt: skip
        stream.append(
            {"flag_id": flag["flag_id"], "force": flag["force"], "rule": flag["rule"], "severity": flag["severity"],
             "at": change.at, "body": {"event": payload.EVENT_TYPE, **payload.model_dump(mode="json")}}
        )  # fmt: skip
    await repository.add_flag_history(uow.session, history)
    await repository.append_alerts(uow.session, stream)


# A ledger step (raise or cure, the flag's rule and subject, its data, the event), and a change it made.
_Step = tuple[str, tuple[str, str], dict[str, Any], Envelope | None]
_Logged = tuple[tuple[str, str], dict[str, Any], datetime, str | None, Envelope | None]


class FlagLedger:
    """The flags a piece of work raises and cures, in order, written together: each rule raises a flag on a
    subject once (a replay raises nothing new), and only an open or acknowledged flag is cured."""

    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def raise_(
        self,
        drafts: Sequence[FlagDraft],
        *,
        force: str,
        contact_id: UUID,
        at: datetime,
        envelope: Envelope | None = None,
    ) -> None:
        """Raises each flag not raised before, with the evidence the detector saw and the event that showed it."""
        for draft in drafts:
            evidence = dict(draft.evidence)
            if envelope is not None:
                evidence.setdefault("event_id", str(envelope.event_id))
                evidence.setdefault("event_type", envelope.event_type)
            flag = {
                "rule": draft.rule.value,
                "severity": draft.severity.value,
                "force": force,
                "contact_id": contact_id,
                "crime_reference": draft.crime_reference,
                "subject": draft.subject,
                "audit_category": draft.audit_category,
                "explanation": draft.explanation,
                "evidence": evidence,
                "raised_at": at,
                "status": FlagStatus.OPEN.value,
                "resolution": None,
                "cured_by": None,
                "updated_at": at,
            }
            self._steps.append(("raise", (draft.rule.value, draft.subject), flag, envelope))

    def cure(self, rule: Rule, subject: str, envelope: Envelope, why: str) -> None:
        """Cures a rule's flag on a subject, if one is open or acknowledged by then, saying by what."""
        cured_by = {"event_id": str(envelope.event_id), "event_type": envelope.event_type, "why": why}
        self._steps.append(("cure", (rule.value, subject), cured_by, envelope))

    async def write(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        """Applies the steps in order to the flags as stored (locked) and writes them; returns the new flags."""
        steps, self._steps = self._steps, []
        if not steps:
            return []
        new, cured, log = await _apply(uow, steps)
        ids = await repository.insert_flags(uow.session, list(new.values()))
        if lost := {key for key in new if key not in ids}:
            # Another consumer raised these between our read and our insert (the insert waited for it to commit):
            # the flags are its to announce, and our steps apply to them as stored now.
            log = [entry for entry in log if entry[0] not in lost]
            _, cured_since, log_since = await _apply(uow, [step for step in steps if step[1] in lost])
            cured |= cured_since
            log += log_since
        await repository.update_flags(uow.session, list(cured.values()))
        changes = []
        for key, flag, at, note, envelope in log:
            changes.append(
                FlagChange(flag=flag | {"flag_id": ids.get(key, flag.get("flag_id"))}, at=at, note=note, cause=envelope)
            )
        await publish(uow, changes)
        return [flag | {"flag_id": ids[key]} for key, flag in new.items() if key in ids]


async def _apply(
    uow: UnitOfWork, steps: Sequence[_Step]
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], dict[str, Any]], list[_Logged]]:
    """Steps applied in order to the flags as stored (locked): the flags to insert, the stored flags cured, and
    each change as it happened."""
    stored = await repository.flags_by_key(uow.session, {key for _, key, _, _ in steps})
    flags = {key: dict(row._mapping) for key, row in stored.items()}
    new: dict[tuple[str, str], dict[str, Any]] = {}
    cured: dict[tuple[str, str], dict[str, Any]] = {}
    log: list[_Logged] = []
    for kind, key, data, envelope in steps:
        if kind == "raise":
            if key not in flags:
                flags[key] = new[key] = dict(data)
                log.append((key, dict(data), data["raised_at"], None, envelope))
        elif (flag := flags.get(key)) is not None and flag["status"] in CURABLE:
            assert envelope is not None
            flag.update(status="cured", cured_by=data, updated_at=envelope.occurred_at)
            if key not in new:
                cured[key] = flag
            log.append((key, dict(flag), envelope.occurred_at, f"cured: {data['why']}", envelope))
    return new, cured, log


async def raise_flags(
    uow: UnitOfWork,
    drafts: Sequence[FlagDraft],
    *,
    force: str,
    contact_id: UUID,
    at: datetime,
    envelope: Envelope | None = None,
) -> list[dict[str, Any]]:
    """Raises each flag not raised before (a replay raises nothing new) and alerts on it; returns the new ones."""
    ledger = FlagLedger()
    ledger.raise_(drafts, force=force, contact_id=contact_id, at=at, envelope=envelope)
    return await ledger.write(uow)


async def cure(uow: UnitOfWork, rule: Rule, subject: str, envelope: Envelope, why: str) -> None:
    """Marks a rule's flag on a subject cured by a later event, saying by what."""
    ledger = FlagLedger()
    ledger.cure(rule, subject, envelope, why)
    await ledger.write(uow)


async def change_flag(
    uow: UnitOfWork,
    *,
    flag_id: int,
    force: str,
    by: str,
    status: FlagStatus,
    resolution: str | None,
    note: str,
    now: datetime,
) -> Row[Any] | str:
    """A person acknowledges or resolves a flag; returns the flag, or why it cannot change."""  # fmt: skip
    flag = await repository.get_flag(uow.session, flag_id, lock=True)
    if flag is None or flag.force != force:
        return "not found"
    allowed = {
        FlagStatus.ACKNOWLEDGED: {FlagStatus.OPEN.value},
        FlagStatus.RESOLVED: {FlagStatus.OPEN.value, FlagStatus.ACKNOWLEDGED.value},
    }[status]
    if flag.status not in allowed:
        return f"a {flag.status} flag cannot become {status.value}"
    updated = await repository.set_flag_status(
        uow.session, flag_id=flag_id, status=status.value, resolution=resolution, now=now
    )
    assert updated is not None
    await publish(uow, [FlagChange(flag=updated._mapping, at=now, by=by, note=note)])
    return updated


# ------------------------------------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class RecordingStatistics:
    """The inspectorate's recording measures for a force and period."""

    tally: statistics.RecordingTally
    recorded_12_months: int


async def recording_statistics(
    session: AsyncSession, *, force: str, start: datetime, end: datetime, standard: Standard
) -> RecordingStatistics:
    """Crimes recorded ÷ crimes that should have been recorded, from the contacts received in the period."""
    tally = statistics.RecordingTally()
    crimes_by_contact: dict[UUID, list[statistics.CrimeOutcome]] = {}
    for row in await repository.crimes_of_contacts_received(session, force=force, start=start, end=end):
        crimes_by_contact.setdefault(row.contact_id, []).append(
            statistics.CrimeOutcome(row.audit_category, row.status, bool(row.on_time), row.removal_correct)
        )
    for row in await repository.contacts_received(session, force=force, start=start, end=end):
        facts = ReportedFacts.from_json(row.facts)
        units = should_units(
            facts,
            standard.catalogue,
            outcome=row.outcome,
            evidence_given=bool((row.decision or {}).get("credible_evidence")),
            deadline_passed=row.deadline_checked,
        )
        required = [
            offence.audit_category.value for code in units if (offence := standard.catalogue.get(code)) is not None
        ]
        tally.add_contact(required, crimes_by_contact.get(row.contact_id, []))
    recorded = await repository.crimes_recorded_between(session, force=force, start=end - timedelta(days=365), end=end)
    return RecordingStatistics(tally=tally, recorded_12_months=recorded)
