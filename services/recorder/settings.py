"""Recorder's settings (prefix `CRIMEREC_RECORDER_`)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.recorder.rules.authority import AuthorityPolicy
from services.runtime.settings import ServiceSettings


class RecorderSettings(ServiceSettings):
    """Where the recorder listens, and the force policy defaults it applies."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_RECORDER_", extra="ignore")

    port: int = Field(default=8002, ge=1, le=65535)
    recording_limit_hours: float = Field(
        default=24, gt=0, description="A crime must be recorded within this many hours of the report (NCRS)."
    )
    authority: AuthorityPolicy = Field(
        default_factory=AuthorityPolicy,
        description='Cancellation authority (JSON): {"mode": "enforce"|"audit", "matrix": {category: [roles]}}.',
    )
    force_authority: dict[str, AuthorityPolicy] = Field(
        default_factory=dict, description="Per-force overrides of `authority`, by force code (JSON)."
    )
    screening_model_path: Path | None = Field(
        default=None,
        description="The narrative screener's model file; the one shipped in the package by default. A missing or "
        "unreadable file leaves screening running rules-only (the health endpoint says so).",
    )
    screening: bool = Field(
        default=True,
        description="Screen the narrative of every contact not recorded at first contact (issue 18). Off only to "
        "measure what screening costs (bench/recorder.py): contacts are then left unscreened.",
    )
