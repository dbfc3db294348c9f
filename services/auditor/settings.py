"""Auditor's settings (prefix `CRIMEREC_AUDITOR_`)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.auditor.rules.policy import AuditPolicy
from services.runtime.settings import ServiceSettings


class AuditorSettings(ServiceSettings):
    """Where the auditor listens and the recording limit it holds the force to."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_AUDITOR_", extra="ignore")

    port: int = Field(default=8003, ge=1, le=65535)
    recording_limit_hours: float = Field(default=24, gt=0, description="NCRS: record within this many hours.")
    victim_notice_days: float = Field(default=7, gt=0, description="A victim is told of a removal within this.")
    clock: Literal["live", "event_time"] = Field(
        default="live",
        description="live: deadlines fire by the wall clock (held back while the auditor is catching up); "
        "event_time: by the events' own times, so a replayed stream gives the flags live running gave.",
    )
    sweep_seconds: float = Field(default=1.0, gt=0, description="How often deadlines are checked.")

    def policy(self) -> AuditPolicy:
        """The standard the auditor holds the force to."""
        return AuditPolicy(recording_limit_hours=self.recording_limit_hours, victim_notice_days=self.victim_notice_days)
