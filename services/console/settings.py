"""Console's settings (prefix `CRIMEREC_CONSOLE_`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


def _sibling(name: str, field: str, default: str) -> object:
    # `crimerec up` tells every process where each service listens (CRIMEREC_AUDITOR_PORT, …); the console's own
    # CRIMEREC_CONSOLE_AUDITOR_PORT wins when given.
    return Field(
        default=default,
        validation_alias=AliasChoices(f"CRIMEREC_CONSOLE_{name}_{field}", f"CRIMEREC_{name}_{field}"),
    )


class ConsoleSettings(ServiceSettings):
    """Where the console listens, where the three services it shows are, and how long a sign-in lasts."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_CONSOLE_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8004, ge=0, le=65535)
    intake_host: str = _sibling("INTAKE", "HOST", "127.0.0.1")  # type: ignore[assignment]
    intake_port: str = _sibling("INTAKE", "PORT", "8001")  # type: ignore[assignment]
    recorder_host: str = _sibling("RECORDER", "HOST", "127.0.0.1")  # type: ignore[assignment]
    recorder_port: str = _sibling("RECORDER", "PORT", "8002")  # type: ignore[assignment]
    auditor_host: str = _sibling("AUDITOR", "HOST", "127.0.0.1")  # type: ignore[assignment]
    auditor_port: str = _sibling("AUDITOR", "PORT", "8003")  # type: ignore[assignment]
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Per call to a service.")
    session_hours: float = Field(default=10.0, gt=0, le=24 * 7, description="A sign-in lasts this long (a shift).")
    secure_cookies: bool = Field(
        default=False, description="Mark the session cookie Secure: on whenever the console is served over HTTPS."
    )
    recording_limit_hours: float = Field(default=24, gt=0, description="NCRS: record within this many hours.")
    grade_outstanding: float = Field(
        default=0.95, gt=0, le=1, description="Recording rate drawn as the 'outstanding' line (default, configurable)."
    )
    grade_good: float = Field(default=0.90, gt=0, le=1, description="… 'good' line (default, configurable).")
    grade_requires_improvement: float = Field(
        default=0.85, gt=0, le=1, description="… 'requires improvement' line; below it 'inadequate'."
    )

    def service_url(self, service: str) -> str:
        """The base URL of intake, recorder or auditor."""
        host = getattr(self, f"{service}_host")
        port = getattr(self, f"{service}_port")
        return f"http://{host}:{port}"
