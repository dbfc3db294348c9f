"""Auditor's settings (prefix `CRIMEREC_AUDITOR_`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class AuditorSettings(ServiceSettings):
    """Where the auditor listens and the recording limit it holds the force to."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_AUDITOR_", extra="ignore")

    port: int = Field(default=8003, ge=1, le=65535)
    recording_limit_hours: float = Field(default=24, gt=0, description="NCRS: record within this many hours.")
