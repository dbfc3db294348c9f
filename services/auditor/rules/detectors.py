"""The auditor's rules on recording (domain.md, What the auditor flags), as pure functions from what it knows of a
contact to flags; the rules on removing a crime are in `cancellations`.

Each detector returns the flags it would raise now. Raising once, curing and alerting are the service's job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.authority import HIGH_RISK
from schemas.catalogue import AuditCategory, OffenceCatalogue
from services.auditor.rules.counting import required_crimes
from services.auditor.rules.facts import ContactState, CrimeFact
from services.auditor.rules.flags import FlagDraft, Rule, Severity


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _victim_severity(categories: set[str]) -> Severity:
    if AuditCategory.RAPE.value in categories:
        return Severity.CRITICAL
    if categories & {c.value for c in HIGH_RISK}:
        return Severity.HIGH
    return Severity.MEDIUM


def _reported_categories(state: ContactState, catalogue: OffenceCatalogue) -> set[str]:
    if state.facts is None:
        return set()
    return {o.audit_category.value for f in state.facts.offences if (o := catalogue.get(f.ho_class)) is not None}


def _contact_flag(
    rule: Rule, state: ContactState, catalogue: OffenceCatalogue, *, explanation: str, evidence: dict[str, Any]
) -> list[FlagDraft]:
    """A flag on a contact (raised once per contact), as severe as the most serious victim-based offence reported."""
    return [
        FlagDraft(
            rule=rule,
            severity=_victim_severity(_reported_categories(state, catalogue)),
            subject=state.contact_id,
            explanation=explanation,
            evidence=evidence,
        )
    ]


def crime_related(state: ContactState) -> bool:
    """A contact reporting a crime (NSIR category crime) or any offence."""
    return state.facts is not None and (state.facts.category == "crime" or bool(state.facts.offences))


VALID_NON_RECORDING = frozenset({"cri", "non_crime", "n100"})


def missing_record(state: ContactState, *, now: datetime, catalogue: OffenceCatalogue) -> list[FlagDraft]:
    """MISSING_RECORD: a crime-related contact with neither a crime nor a non-crime decision by its deadline."""
    deadline = state.recording_deadline
    if deadline is None or now < deadline or not crime_related(state):
        return []
    # Judged as things stood at the deadline, by the events' own times: a record made after it does not undo the
    # breach (it cures the flag), however late the auditor reads either.
    if any(c.recorded_at <= deadline for c in state.crimes):
        return []
    if state.decision and state.decision.outcome in VALID_NON_RECORDING and state.decision.decided_at <= deadline:
        return []
    # The status it had at the deadline (a decision made later is the cure's to tell).
    decided_in_time = state.decision is not None and state.decision.decided_at <= deadline
    outcome = state.decision.outcome if state.decision and decided_in_time else "no decision"
    return _contact_flag(
        Rule.MISSING_RECORD, state, catalogue,
        explanation=(
            f"Contact received {_iso(state.received_at)} reports a crime but had no crime record and no "
            f"non-crime decision when its recording deadline passed ({_iso(state.recording_deadline)}); "
            f"status: {outcome}. Record the crime or record why it is not one."
        ),
        evidence={
            "received_at": _iso(state.received_at),
            "recording_deadline": _iso(state.recording_deadline),
            "decision": outcome,
            "reported_classes": [o.ho_class for o in state.facts.offences] if state.facts else [],
            "event_ids": list(state.event_ids),
        },
    )  # fmt: skip


def late_record(state: ContactState, crime: CrimeFact) -> list[FlagDraft]:
    """LATE_RECORD: a crime recorded after its deadline (24 hours from the report), as the auditor reckons it."""
    # The auditor's own deadline when it has seen the report: a records system that restarts the clock is caught.
    deadline = state.recording_deadline or crime.recording_deadline
    if crime.recorded_at <= deadline:
        return []
    hours = (crime.recorded_at - deadline).total_seconds() / 3600
    return [
        FlagDraft(
            rule=Rule.LATE_RECORD,
            severity=Severity.MEDIUM,
            subject=crime.crime_reference,
            crime_reference=crime.crime_reference,
            audit_category=crime.audit_category,
            explanation=(
                f"{crime.crime_reference} ({crime.ho_class}) was recorded {hours:.1f} hours after its recording "
                f"deadline {_iso(deadline)}."
            ),
            evidence={
                "recorded_at": _iso(crime.recorded_at),
                "recording_deadline": _iso(deadline),
                "ho_class": crime.ho_class,
            },
        )
    ]


def under_count(state: ContactState, *, catalogue: OffenceCatalogue) -> list[FlagDraft]:
    """UNDER_COUNT: once decided as recorded, fewer crimes than the counting rules require."""
    if state.facts is None or state.decision is None or state.decision.outcome != "recorded":
        return []
    required = required_crimes(state.facts, catalogue)
    recorded = len(state.crimes)
    if recorded >= required:
        return []
    return _contact_flag(
        Rule.UNDER_COUNT, state, catalogue,
        explanation=(
            f"The counting rules require {required} crimes for this contact (one per victim per incident); "
            f"{recorded} recorded."
        ),
        evidence={
            "required": required,
            "recorded": [c.crime_reference for c in state.crimes],
            "victims": len(state.facts.victims),
            "offences": [o.ho_class for o in state.facts.offences],
        },
    )  # fmt: skip


def unjustified_non_crime(state: ContactState, *, catalogue: OffenceCatalogue) -> list[FlagDraft]:
    """UNJUSTIFIED_NON_CRIME: a notifiable offence against an identified victim closed as CRI or non-crime
    without credible evidence to the contrary."""
    if state.facts is None or state.decision is None or state.decision.outcome not in {"cri", "non_crime"}:
        return []
    if state.facts.credible_evidence or (state.decision.credible_evidence or "").strip():
        return []
    # domain.md: a notifiable offence against an identified victim, closed without credible evidence to the
    # contrary. Confirmation is the person's job to get, not a reason to close the contact as a non-crime.
    identified = {v.ref for v in state.facts.victims if v.identified}
    offences = [
        o
        for o in state.facts.offences
        if o.victim_ref in identified
        and catalogue.recordable(o.ho_class) is None
        and (known := catalogue.get(o.ho_class)) is not None
        and known.victim_based
    ]
    if not offences:
        return []
    return _contact_flag(
        Rule.UNJUSTIFIED_NON_CRIME, state, catalogue,
        explanation=(
            f"The contact reports {', '.join(o.ho_class for o in offences)} against an identified victim, but was "
            f"closed as {state.decision.outcome} with no credible evidence to the contrary."
        ),
        evidence={
            "outcome": state.decision.outcome,
            "decided_by": state.decision.decided_by,
            "offences": [o.ho_class for o in offences],
        },
    )  # fmt: skip


def rape_without_n100(state: ContactState, *, catalogue: OffenceCatalogue) -> list[FlagDraft]:
    """RAPE_WITHOUT_N100: a reported rape, once decided, neither recorded as rape here nor given an N100."""
    if state.facts is None or state.decision is None or state.n100s:
        return []
    reported = [
        f.ho_class
        for f in state.facts.offences
        if (o := catalogue.get(f.ho_class)) is not None and o.audit_category is AuditCategory.RAPE
    ]
    if not reported:
        return []
    # A rape recorded here counts even if later cancelled (C2–C4 are judged by their own rules); a transferred one
    # is no longer this force's, so it needs the N100. Judging by status alone would depend on arrival order.
    if any(c.audit_category == AuditCategory.RAPE.value and c.status != "transferred" for c in state.crimes):
        return []
    return [
        FlagDraft(
            rule=Rule.RAPE_WITHOUT_N100,
            severity=Severity.CRITICAL,
            subject=state.contact_id,
            audit_category=AuditCategory.RAPE.value,
            explanation=(
                f"A rape ({', '.join(reported)}) was reported but is not recorded as a rape crime in this force "
                f"and has no N100 record (decision: {state.decision.outcome})."
            ),
            evidence={
                "reported_classes": reported,
                "outcome": state.decision.outcome,
                "crimes": [(c.crime_reference, c.ho_class, c.status) for c in state.crimes],
            },
        )
    ]


def downgrade(
    *,
    contact_id: str,
    crime_reference: str,
    event_id: str,
    previous_class: str,
    new_class: str,
    new_information: bool,
    catalogue: OffenceCatalogue,
) -> list[FlagDraft]:
    """DOWNGRADE: reclassified to a less serious class without new information."""
    previous, new = catalogue.get(previous_class), catalogue.get(new_class)
    if new_information or previous is None or new is None or new.seriousness >= previous.seriousness:
        return []  # classes the catalogue cannot rank are not judged a downgrade
    category = previous.audit_category.value
    return [
        FlagDraft(
            rule=Rule.DOWNGRADE,
            severity=_victim_severity({category}),
            subject=event_id,
            crime_reference=crime_reference,
            audit_category=category,
            explanation=(
                f"{crime_reference} was reclassified from {previous_class} ({previous.name}) to "
                f"{new_class} ({new.name}), a less serious class, with no new information."
            ),
            evidence={"previous_class": previous_class, "new_class": new_class, "contact_id": contact_id},
        )
    ]
