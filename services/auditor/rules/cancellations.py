"""The auditor's rules on removing a recorded crime (domain.md, Removing a recorded crime): grounds, authority,
high-risk review and telling the victim, as pure functions from a removal to the flags it shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.authority import HIGH_RISK, authority_problems, required_roles
from schemas.catalogue import AuditCategory, is_force
from services.auditor.rules.facts import Removal
from services.auditor.rules.flags import FlagDraft, Rule, Severity
from services.auditor.rules.policy import AuditPolicy

OPINION = ("does not wish", "doesn't want", "not wish to proceed", "withdraw", "not support")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _removal_flag(
    rule: Rule, removal: Removal, *, rape: Severity, other: Severity, explanation: str, evidence: dict[str, Any]
) -> list[FlagDraft]:
    """A flag on one removal (raised once per removal event), more severe when the crime removed is a rape."""
    return [
        FlagDraft(
            rule=rule,
            severity=rape if removal.audit_category == AuditCategory.RAPE.value else other,
            subject=removal.event_id,
            crime_reference=removal.crime_reference,
            audit_category=removal.audit_category,
            explanation=explanation,
            evidence=evidence,
        )
    ]


def _transfer_problem(removal: Removal) -> str | None:
    receiving = removal.grounds.get("receiving_force")
    if not receiving:
        return "a transfer (C1) without the receiving force"
    if receiving == removal.force:
        return "a transfer (C1) to the force that already holds the crime"
    if not is_force(receiving):
        return f"a transfer (C1) to {receiving}, which is not a force of England and Wales"
    return None


def _missing_grounds(removal: Removal, *, live_crimes: set[str]) -> str | None:
    grounds = removal.grounds
    parts = (grounds.get("explanation"), (grounds.get("avi") or {}).get("description"), grounds.get("error"))
    said = " ".join(str(part or "") for part in parts).lower()
    if removal.code != "C1" and any(word in said for word in OPINION):
        # A victim not wishing to proceed is an outcome, never a reason to cancel a crime.
        return "the grounds are the victim not wishing to proceed, which is not a reason to cancel"
    match removal.code:
        case "C1":
            return _transfer_problem(removal)
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
    return _removal_flag(
        Rule.CANCELLATION_WITHOUT_GROUNDS, removal, rape=Severity.CRITICAL, other=Severity.HIGH,
        explanation=f"{removal.crime_reference} ({removal.ho_class}) was {removal.kind}: {problem}.",
        evidence={"code": removal.code, "grounds": removal.grounds, "event_id": removal.event_id},
    )  # fmt: skip


def cancellation_wrong_authority(removal: Removal, *, policy: AuditPolicy) -> list[FlagDraft]:
    """CANCELLATION_WRONG_AUTHORITY: authorised below the matrix, or by the person who asked."""
    if removal.request_id is None and removal.kind == "transferred" and removal.code == "C1":
        return []  # transferred by the rules at first contact: no person authorised or asked
    authoriser = removal.authorised_by or {}
    requester = removal.requested_by or {}
    category = AuditCategory(removal.audit_category)
    required = sorted(role.value for role in required_roles(policy.authority, category))
    problems = authority_problems(
        policy.authority, category, requester=requester.get("principal"),
        authoriser=authoriser.get("principal") if authoriser else None, authoriser_roles=authoriser.get("roles", []),
    )  # fmt: skip
    if not problems:
        return []
    return _removal_flag(
        Rule.CANCELLATION_WRONG_AUTHORITY, removal, rape=Severity.CRITICAL, other=Severity.HIGH,
        explanation=f"{removal.crime_reference} was {removal.kind} ({removal.code}): {'; '.join(problems)}.",
        evidence={
            "requested_by": requester, "authorised_by": authoriser, "required_roles": required,
            "authority_mode": removal.authority_mode,
        },
    )  # fmt: skip


def high_risk_cancellation(removal: Removal) -> list[FlagDraft]:
    """HIGH_RISK_CANCELLATION: any removal of a rape, other sexual offence, violence or robbery is reviewed."""
    if AuditCategory(removal.audit_category) not in HIGH_RISK:
        return []
    return _removal_flag(
        Rule.HIGH_RISK_CANCELLATION, removal, rape=Severity.HIGH, other=Severity.MEDIUM,
        explanation=(
            f"{removal.crime_reference} ({removal.ho_class}, {removal.audit_category}) was {removal.kind} "
            f"under {removal.code}. The inspectorate found such cancellations often wrong: review it."
        ),
        evidence={"code": removal.code, "grounds": removal.grounds, "authorised_by": removal.authorised_by},
    )  # fmt: skip


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
    removed = f"{removal.crime_reference} was {removal.kind} on {_iso(removal.removed_at)}"
    return _removal_flag(
        Rule.CANCELLATION_VICTIM_NOT_TOLD, removal, rape=Severity.MEDIUM, other=Severity.MEDIUM,
        explanation=f"{removed}; there is no record that the victim was told by {_iso(due)}.",
        evidence={
            "removed_at": _iso(removal.removed_at), "due": _iso(due), "notified_at": [_iso(t) for t in notified_at],
        },
    )  # fmt: skip
