"""What a flag is before it is raised: the rule it breaks, how urgent it is, and the draft a detector returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    HIDDEN_CRIME_UNREVIEWED = "HIDDEN_CRIME_UNREVIEWED"


class Severity(StrEnum):
    """How urgently a supervisor should look."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


def at_or_above(minimum: Severity | str) -> list[str]:
    """The severities a supervisor asking for `minimum` and above receives, lowest first."""
    return [s.value for s in SEVERITY_ORDER[SEVERITY_ORDER.index(Severity(minimum)) :]]


def rule_values(rules: Iterable[Rule] | None) -> list[str] | None:
    """Rules asked for as a filter, once each and in a stable order; None for every rule."""
    return sorted({r.value for r in rules}) if rules else None


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
