"""The shape of a recording decision: its outcome, the crimes to record, and what waits for a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import IncidentCategory
from schemas.events import Outcome
from services.recorder.rules.counting import CrimeToRecord
from services.recorder.rules.policy import DEFAULT_POLICY, RecordingPolicy

RULES_VERSION: Final = "ncrs-2026.1"
"""The version of these rules; a decision stores it with the catalogue's version (see rules_version)."""


class PendingKind(StrEnum):
    """Why part of a contact waits for a person's decision."""

    NO_OFFENCE_CLASSIFIED = "no_offence_classified"
    CLASS_NOT_RECORDABLE = "class_not_recordable"
    NO_VICTIM_NAMED = "no_victim_named"
    VICTIM_NOT_IDENTIFIED = "victim_not_identified"
    VICTIM_NOT_CONFIRMED = "victim_not_confirmed"
    POINTS_TO_PROVE = "points_to_prove"
    FORCE_AREA_UNKNOWN = "force_area_unknown"
    HELD_BY_POLICY = "held_by_policy"


PENDING_SUMMARY: Final[dict[PendingKind, str]] = {
    PendingKind.NO_OFFENCE_CLASSIFIED: "no offence classified",
    PendingKind.CLASS_NOT_RECORDABLE: "a class the force may not record under",
    PendingKind.NO_VICTIM_NAMED: "a victim-based offence naming no victim",
    PendingKind.VICTIM_NOT_IDENTIFIED: "a victim not identified",
    PendingKind.VICTIM_NOT_CONFIRMED: "a third-party report the victim has not confirmed",
    PendingKind.POINTS_TO_PROVE: "an offence against the state whose points to prove are not made out",
    PendingKind.FORCE_AREA_UNKNOWN: "a force area crimerec does not know",
    PendingKind.HELD_BY_POLICY: "crimes held by force policy until the whole contact is decided",
}


@dataclass(frozen=True)
class PendingItem:
    """One thing in a contact that a person must decide, where it is, and why the rules cannot decide it."""

    kind: PendingKind
    where: str
    """Where in the contact, as in problems: victims.V2, offences.3.ho_class, location.force_area."""
    reason: str
    offences: tuple[int, ...] = ()
    """Indices into contact.offences that wait on this item."""
    victim_ref: str | None = None
    ho_class: str | None = None
    """The class the crime would be recorded under (the principal one), when there is one."""
    incident_ref: str | None = None

    @property
    def problem(self) -> str:
        """The item as one line of Decision.problems."""
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Decision:
    """The recording decision for one contact, with its reasons."""

    outcome: Outcome
    crimes: tuple[CrimeToRecord, ...]
    """The crimes to record now, principal crime first; also under outcome pending (a mixed contact)."""
    rationale: str
    recording_deadline: datetime
    problems: tuple[str, ...] = ()
    """What a person must decide, one line each ('where: why'); empty unless the outcome is pending."""
    transfer_to: str | None = None
    """The force the recorded crimes are transferred to (committed in its area; HOCR G, cancellation C1)."""
    n100: bool = False
    rules_version: str = field(default=RULES_VERSION)
    """decide() always sets this to rules_version(catalogue, policy)."""
    decision_deadline: datetime | None = None
    """When a pending decision must be made: the recording deadline, which is never reset."""
    pending_reason: str | None = None
    """In a few words, why the contact is pending."""
    pending: tuple[PendingItem, ...] = ()
    n100_offences: tuple[int, ...] = ()
    """Indices into contact.offences of the reported rapes not recorded at once as rape."""
    referred_to_action_fraud: tuple[int, ...] = ()
    """Indices into contact.offences of the frauds the force does not record (Action Fraud does)."""
    closing_category: IncidentCategory | None = None
    """The NSIR category a non-crime incident is closed in."""
    credible_evidence: str | None = None
    """A CRI for credible evidence to the contrary: that evidence, as reported (ContactDecided.credible_evidence)."""


def recording_deadline(received_at: datetime, limit: timedelta) -> datetime:
    """NCRS: recorded within the limit (default 24 h) of the report; the clock starts at receipt, never resets."""
    return received_at + limit


def rules_version(catalogue: OffenceCatalogue, policy: RecordingPolicy = DEFAULT_POLICY) -> str:
    """The version a decision is made by: these rules, the catalogue's content and, if not the default, the policy."""
    version = f"{RULES_VERSION}+{catalogue.version}"
    if policy is not DEFAULT_POLICY and (digest := policy.digest()) != DEFAULT_POLICY.digest():
        version += f".p{digest}"
    return version
