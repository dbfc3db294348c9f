"""Auditor's settings (prefix `CRIMEREC_AUDITOR_`)."""

import re
from typing import Literal

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import SettingsConfigDict

from services.auditor.rules.policy import AuditPolicy
from services.runtime.settings import ServiceSettings

# A host name (optionally `*.` for any name under it), an IPv4 address or an IPv6 address (no brackets).
HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


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
    alert_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the alert stream looks for new alerts when no notification came."
    )
    alert_ping_seconds: float = Field(default=15.0, gt=0, description="Keep-alive comment interval on SSE streams.")
    alert_settle_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait for a transaction still writing alerts before the stream moves past its place.",
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Per delivery attempt.")
    webhook_first_retry_seconds: float = Field(
        default=2.0, gt=0, description="Wait after a failed delivery; doubles with every further failure."
    )
    webhook_max_retry_seconds: float = Field(default=300.0, gt=0, description="Ceiling of the wait between retries.")
    webhook_max_failures: int = Field(
        default=10, ge=1, description="Consecutive failed deliveries after which a subscription is suspended."
    )
    webhook_max_failing_seconds: float = Field(
        default=3600.0, gt=0, description="A subscription failing for longer than this is suspended."
    )
    webhook_poll_seconds: float = Field(default=1.0, gt=0, description="How often due retries are looked for.")
    webhook_concurrency: int = Field(default=8, ge=1, le=100, description="Subscriptions served at once per process.")
    webhook_max_subscriptions: int = Field(
        default=100, ge=1, le=10_000, description="Active or suspended subscriptions a force may hold."
    )

    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts webhooks may be sent to (JSON list): exact names or addresses, or `*.example.org` for any "
        "name under example.org. Empty: no subscription can be made.",
    )
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Private, loopback or link-local networks webhooks may reach (JSON list of CIDRs); any other "
        "non-public address is refused, after the name is resolved and again on every connection.",
    )
    webhook_allow_http: bool = Field(
        default=False, description="Allow plain http:// callbacks (unencrypted: tests and local set-ups only)."
    )

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not HOST_PATTERN.fullmatch(pattern):
                raise ValueError(f"{pattern[:100]!r} is not a host name, address or *.domain pattern")
        return value

    def policy(self) -> AuditPolicy:
        """The standard the auditor holds the force to."""
        return AuditPolicy(recording_limit_hours=self.recording_limit_hours, victim_notice_days=self.victim_notice_days)
