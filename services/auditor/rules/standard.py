"""What the auditor judges a force by: the offence catalogue, the force's audit policy, and which clock."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.catalogue import OffenceCatalogue
from services.auditor.rules.policy import AuditPolicy


@dataclass(frozen=True)
class Standard:
    """What the auditor judges by: the offence catalogue and the force policy."""

    catalogue: OffenceCatalogue
    policy: AuditPolicy
    event_time: bool = False  # judge deadlines by the events' own times (replays, simulations)
