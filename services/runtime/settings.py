"""Settings shared by every service: where the engines are, and how to talk to them."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    """Where PostgreSQL and the Kafka-protocol broker are (`CRIMEREC_DATABASE_URL`, `CRIMEREC_KAFKA_BOOTSTRAP`)."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_", extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/crimerec"),
        description="SQLAlchemy URL of the PostgreSQL database (asyncpg driver).",
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    kafka_enable_idempotence: bool = Field(
        default=True,
        description="Idempotent producer; on for Apache Kafka, off for the embedded broker (it cannot do it).",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="Consumer group session timeout (a group join waits about half of it).",
    )
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    kafka_fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=500,
        description="Longest a consumer's fetch waits on the broker for new events. The embedded broker holds an "
        "empty fetch this long even when an event arrives meanwhile, so it bounds a hop's latency; a real Kafka "
        "answers as soon as an event arrives, and a short wait only costs idle fetches.",
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        description="A consumer that has not polled for this long leaves its group; a polled batch is handled in "
        "runs that fit well inside it, and what does not fit is fetched again at the next poll.",
    )
    topic_prefix: str = Field(default="", max_length=100, description="Put in front of every topic name.")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    simulated_clock: bool = Field(
        default=False,
        description="Run on simulated time (`crimerec simulate`): requests say their time in the "
        "Crimerec-Simulated-Time header and events are handled at their own time. Never in production.",
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_only(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            # A plain libpq URL is what most people have to hand; the services speak asyncpg.
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must be a postgresql+asyncpg:// URL")
        return SecretStr(url)

    def topic(self, name: str) -> str:
        """The broker's name for one of our topics (see schemas.topics)."""
        return self.topic_prefix + name


class ServiceSettings(BaseSettings):
    """What every service has: its name, where it listens, its limits, and the engines."""

    model_config = SettingsConfigDict(extra="ignore")

    engines: EngineSettings = Field(default_factory=EngineSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Request bodies above this get 413.")
    log_level: str = "INFO"
    outbox_retention_hours: int = Field(
        default=24 * 7,
        ge=1,
        description="Published outbox rows are kept this long, to re-seed a broker that lost its log.",
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Tries before a non-transient failure sends an event to the .dlq.",
    )
    consumer_batch_size: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="Most events a consumer takes from one poll and handles in one transaction per partition. "
        "Batches fill only when a consumer is behind, so this costs a live stream nothing.",
    )
    auth_cache_seconds: float = Field(default=30.0, ge=0, description="How long a verified API key is trusted.")
