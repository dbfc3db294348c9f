"""The auditor's rules (domain.md, What the auditor flags), as pure functions from what it knows to flags.

Each detector returns the flags it would raise now. Raising once, curing and alerting are the service's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from schemas.catalogue import AuditCategory, OffenceCatalogue, is_force
from services.auditor.rules.counting import required_crimes
from services.auditor.rules.facts import ContactState, CrimeFact, Removal
from services.auditor.rules.policy import HIGH_RISK, AuditPolicy


class Rule(StrEnum):
    """The integrity rules the auditor checks."""

    MISSING_RECORD = "MISSING_RECORD"
    LATE_RECORD = "LATE_RECORD"
    UNDER_COUNT = "UNDER_COUNT"
    UNJUSTIFIED_NON_CRIME = "UNJUSTIFIED_NON_CRIME"
    RAPE_WITHOUT_N100 = "RAPE_WITHOUT_N100"
    CANCELLATION_WITHOUT_GROUNDS = "CANCELLATION_WITHOUT_GROUNDS"
    CANCELLATION_WRONG_AUTHORITY = "CANCELLATION_WRONG_AUTHORITY"
    CANCELLATION_VICTIM_NOT_TOLD = "CANCELLATION_VICTIM_NOT_TOLD"
    HIGH_RISK_CANCELLATION = "HIGH_RISK_CANCELLATION"
    DOWNGRADE = "DOWNGRADE"


class Severity(StrEnum):
    """How urgently a supervisor should look."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@dataclass(frozen=True)
class FlagDraft:
    """A flag a detector would raise: which rule, about what, why, and the evidence it saw."""

    rule: Rule
    severity: Severity
    subject: str  # what the flag is about; with the rule, it makes the flag unique (raised once)
    explanation: str
    crime_reference: str | None = None
    audit_category: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


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
    return [
        FlagDraft(
            rule=Rule.MISSING_RECORD,
            severity=_victim_severity(_reported_categories(state, catalogue)),
            subject=state.contact_id,
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
        )
    ]


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
    return [
        FlagDraft(
            rule=Rule.UNDER_COUNT,
            severity=_victim_severity(_reported_categories(state, catalogue)),
            subject=state.contact_id,
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
        )
    ]


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
    return [
        FlagDraft(
            rule=Rule.UNJUSTIFIED_NON_CRIME,
            severity=_victim_severity(_reported_categories(state, catalogue)),
            subject=state.contact_id,
            explanation=(
                f"The contact reports {', '.join(o.ho_class for o in offences)} against an identified victim, but was "
                f"closed as {state.decision.outcome} with no credible evidence to the contrary."
            ),
            evidence={
                "outcome": state.decision.outcome,
                "decided_by": state.decision.decided_by,
                "offences": [o.ho_class for o in offences],
            },
        )
    ]


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


OPINION = ("does not wish", "doesn't want", "not wish to proceed", "withdraw", "not support")


def _missing_grounds(removal: Removal, *, live_crimes: set[str]) -> str | None:
    grounds = removal.grounds
    parts = (grounds.get("explanation"), (grounds.get("avi") or {}).get("description"), grounds.get("error"))
    said = " ".join(str(part or "") for part in parts).lower()
    if removal.code != "C1" and any(word in said for word in OPINION):
        # A victim not wishing to proceed is an outcome, never a reason to cancel a crime.
        return "the grounds are the victim not wishing to proceed, which is not a reason to cancel"
    match removal.code:
        case "C1":
            receiving = grounds.get("receiving_force")
            if not receiving:
                return "a transfer (C1) without the receiving force"
            if receiving == removal.force:
                return "a transfer (C1) to the force that already holds the crime"
            if not is_force(receiving):
                return f"a transfer (C1) to {receiving}, which is not a force of England and Wales"
            return None
        case "C2":
            avi = grounds.get("avi") or {}
            if not (avi.get("description") and avi.get("held_at")):
                return "C2 without additional verifiable information (what it is and where it is held)"
            return None
        case "C3":
            duplicate = grounds.get("duplicate_of")
            if not duplicate:
                return "C3 (duplicate) without the crime it duplicates"
            if duplicate == removal.crime_reference or duplicate not in live_crimes:
                return f"C3 points at {duplicate}, which is not a live crime of this force"
            return None
        case "C4":
            return None if (grounds.get("error") or "").strip() else "C4 (recorded in error) without the error"
    return f"{removal.code} is not a reason a recorded crime may be removed for"


def cancellation_without_grounds(removal: Removal, *, live_crimes: set[str]) -> list[FlagDraft]:
    """CANCELLATION_WITHOUT_GROUNDS: the reason is missing or malformed for its code."""
    problem = _missing_grounds(removal, live_crimes=live_crimes)
    if problem is None:
        return []
    return [
        FlagDraft(
            rule=Rule.CANCELLATION_WITHOUT_GROUNDS,
            severity=Severity.CRITICAL if removal.audit_category == AuditCategory.RAPE.value else Severity.HIGH,
            subject=removal.event_id,
            crime_reference=removal.crime_reference,
            audit_category=removal.audit_category,
            explanation=f"{removal.crime_reference} ({removal.ho_class}) was {removal.kind}: {problem}.",
            evidence={"code": removal.code, "grounds": removal.grounds, "event_id": removal.event_id},
        )
    ]


def cancellation_wrong_authority(removal: Removal, *, policy: AuditPolicy) -> list[FlagDraft]:
    """CANCELLATION_WRONG_AUTHORITY: authorised below the matrix, or by the person who asked."""
    if removal.request_id is None and removal.kind == "transferred" and removal.code == "C1":
        return []  # transferred by the rules at first contact: no person authorised or asked
    authoriser = removal.authorised_by or {}
    requester = removal.requested_by or {}
    category = AuditCategory(removal.audit_category)
    required = {r.value for r in policy.authority.get(category, [])}
    held = set(authoriser.get("roles", []))
    problems = []
    if not authoriser:
        problems.append("no authoriser was recorded")
    elif authoriser.get("principal") == requester.get("principal"):
        problems.append("the authoriser is the person who asked")
    if authoriser and not held & required:
        problems.append(
            f"a {category.value} crime needs {' or '.join(sorted(required))}; the authoriser held "
            f"{', '.join(sorted(held)) or 'no role'}"
        )
    if not problems:
        return []
    return [
        FlagDraft(
            rule=Rule.CANCELLATION_WRONG_AUTHORITY,
            severity=Severity.CRITICAL if category is AuditCategory.RAPE else Severity.HIGH,
            subject=removal.event_id,
            crime_reference=removal.crime_reference,
            audit_category=removal.audit_category,
            explanation=f"{removal.crime_reference} was {removal.kind} ({removal.code}): {'; '.join(problems)}.",
            evidence={
                "requested_by": requester,
                "authorised_by": authoriser,
                "required_roles": sorted(required),
                "authority_mode": removal.authority_mode,
            },
        )
    ]


def high_risk_cancellation(removal: Removal) -> list[FlagDraft]:
    """HIGH_RISK_CANCELLATION: any removal of a rape, other sexual offence, violence or robbery is reviewed."""
    if AuditCategory(removal.audit_category) not in HIGH_RISK:
        return []
    return [
        FlagDraft(
            rule=Rule.HIGH_RISK_CANCELLATION,
            severity=Severity.HIGH if removal.audit_category == AuditCategory.RAPE.value else Severity.MEDIUM,
            subject=removal.event_id,
            crime_reference=removal.crime_reference,
            audit_category=removal.audit_category,
            explanation=(
                f"{removal.crime_reference} ({removal.ho_class}, {removal.audit_category}) was {removal.kind} "
                f"under {removal.code}. The inspectorate found such cancellations often wrong: review it."
            ),
            evidence={"code": removal.code, "grounds": removal.grounds, "authorised_by": removal.authorised_by},
        )
    ]


def victim_not_told(
    removal: Removal, *, notified_at: list[datetime], now: datetime, policy: AuditPolicy
) -> list[FlagDraft]:
    """CANCELLATION_VICTIM_NOT_TOLD: no record that the victim was told within the limit (default 7 days)."""
    due = removal.removed_at + policy.victim_notice
    if now < due:
        return []
    told_in_time = [t for t in notified_at if t <= due]
    if removal.victim_informed and removal.victim_informed_at and removal.victim_informed_at <= due:
        told_in_time.append(removal.victim_informed_at)
    if told_in_time:
        return []
    return [
        FlagDraft(
            rule=Rule.CANCELLATION_VICTIM_NOT_TOLD,
            severity=Severity.MEDIUM,
            subject=removal.event_id,
            crime_reference=removal.crime_reference,
            audit_category=removal.audit_category,
            explanation=(
                f"{removal.crime_reference} was {removal.kind} on {_iso(removal.removed_at)}; there is no record "
                f"that the victim was told by {_iso(due)}."
            ),
            evidence={
                "removed_at": _iso(removal.removed_at),
                "due": _iso(due),
                "notified_at": [_iso(t) for t in notified_at],
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
