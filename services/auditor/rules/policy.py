"""The standard the auditor holds a force to (domain.md: default, configurable)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from schemas.authority import default_matrix
from schemas.catalogue import AuditCategory
from schemas.events import Role


class AuditPolicy(BaseModel):
    """What the auditor checks against: the recording limit, the victim-notice limit, the authority matrix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recording_limit_hours: float = Field(default=24, gt=0)
    victim_notice_days: float = Field(default=7, gt=0)
    authority: dict[AuditCategory, list[Role]] = Field(default_factory=default_matrix)

    @property
    def recording_limit(self) -> timedelta:
        """NCRS: a crime is recorded within this time of the report."""
        return timedelta(hours=self.recording_limit_hours)

    @property
    def victim_notice(self) -> timedelta:
        """A victim is told of a cancellation or transfer within this time."""
        return timedelta(days=self.victim_notice_days)
