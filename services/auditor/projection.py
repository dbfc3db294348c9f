"""The auditor's projection of the events every contact brings (its report, its decision, its crimes), a run at a
time and in memory, judged at each step exactly as one-at-a-time handling would judge it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from schemas.envelope import Envelope
from schemas.events import ContactDecided, ContactReceived, CrimeRecorded
from services.auditor import repository, stats_repository
from services.auditor.ledger import FlagLedger
from services.auditor.rules import detectors
from services.auditor.rules.counting import required_categories, required_crimes
from services.auditor.rules.facts import ContactState, CrimeFact, DecisionFact, ReportedFacts
from services.auditor.rules.flags import Rule
from services.auditor.rules.standard import Standard
from services.runtime.messaging import UnitOfWork

EVIDENCE_GIVEN = "(given)"

# The events every contact brings (a report, its decision, its crimes): projected and judged a run at a time, in
# memory, with one statement per table. The rarer ones (cancellations, transfers, reclassifications, N100s,
# notifications) are handled one by one, in their place in the stream.
Projected = ContactReceived | ContactDecided | CrimeRecorded


async def project_run(uow: UnitOfWork, run: Sequence[tuple[Envelope, Projected]], standard: Standard) -> None:
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
    await stats_repository.refresh_units(uow.session, changes.keys())
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
        required_categories=required_categories(facts, standard.catalogue, confirmation_needed=True),
        required_categories_unconfirmed=required_categories(facts, standard.catalogue, confirmation_needed=False),
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
