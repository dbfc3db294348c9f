"""Intake's settings (prefix `CRIMEREC_INTAKE_`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Where intake listens and how long it keeps idempotency keys."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_INTAKE_", extra="ignore")

    port: int = Field(default=8001, ge=1, le=65535)
    idempotency_hours: int = Field(default=24, ge=24, description="Idempotency keys are kept at least this long.")
    clock_skew_seconds: int = Field(default=300, ge=0, description="How far in the future received_at may be.")
    group_commit_max: int = Field(
        default=256,
        ge=1,
        le=5000,
        description="At most this many contacts POSTed together are stored in one transaction.",
    )
    prefer_wait_max_seconds: int = Field(
        default=30, ge=0, le=300, description="Longest `Prefer: wait=N` honoured on POST /v1/contacts."
    )
    max_batch_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest body of POST /v1/contacts:batch (up to 1,000 contacts); a larger batch gets 413.",
    )
