"""Engine settings: what an operator puts in the environment, and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.database import asyncpg_dsn, create_engine
from services.runtime.settings import EngineSettings, ServiceSettings


class ProbeSettings(ServiceSettings):
    """A service's settings, as each service declares them (its own prefix, the engines nested)."""

    model_config = SettingsConfigDict(env_prefix="CRIMEREC_PROBE_", extra="ignore")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://crimerec@db.example:5432/crimes", "postgresql+asyncpg://crimerec@db.example:5432/crimes"),
        ("postgres://crimerec:s3cret@db.example/crimes", "postgresql+asyncpg://crimerec:s3cret@db.example/crimes"),
        ("postgresql+asyncpg://crimerec@db.example/crimes", "postgresql+asyncpg://crimerec@db.example/crimes"),
    ],
)
def test_a_postgres_url_is_used_with_the_asyncpg_driver(given: str, used: str) -> None:
    settings = EngineSettings(database_url=given)  # type: ignore[arg-type]
    assert settings.database_url.get_secret_value() == used


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///crimes.db",
        "mysql://crimerec@db.example/crimes",
        "postgresql+psycopg://crimerec@db.example/crimes",
        "postgresql+psycopg2://crimerec@db.example/crimes",
        "https://db.example/crimes",
        "db.example:5432/crimes",
        "",
    ],
)
def test_other_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="database_url"):
        EngineSettings(database_url=url)  # type: ignore[arg-type]


def test_the_engines_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMEREC_DATABASE_URL", "postgresql://crimerec:s3cret@db.internal:6432/crimes")
    monkeypatch.setenv("CRIMEREC_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("CRIMEREC_TOPIC_PREFIX", "gmp.")
    monkeypatch.setenv("CRIMEREC_KAFKA_ENABLE_IDEMPOTENCE", "false")

    for settings in (EngineSettings(), ProbeSettings().engines):
        assert (
            settings.database_url.get_secret_value() == "postgresql+asyncpg://crimerec:s3cret@db.internal:6432/crimes"
        )
        assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
        assert settings.kafka_enable_idempotence is False
        assert settings.topic("contacts") == "gmp.contacts"
        assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_a_bad_url_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMEREC_DATABASE_URL", "sqlite:///crimes.db")
    with pytest.raises(ValidationError, match="postgresql"):
        EngineSettings()


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        (
            "postgresql+asyncpg://crimerec:s3cret@db.example:5433/crimes",
            "postgresql://crimerec:s3cret@db.example:5433/crimes",
        ),
        ("postgresql+asyncpg://postgres@127.0.0.1/test", "postgresql://postgres@127.0.0.1/test"),
    ],
)
def test_asyncpg_dsn_names_the_same_database_for_raw_connections(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn


async def test_the_engine_reaches_the_configured_database(engines: EngineSettings, db: AsyncEngine) -> None:
    engine = create_engine(engines)
    try:
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_database()"))
    finally:
        await engine.dispose()
    assert name == make_url(engines.database_url.get_secret_value()).database
    assert engine.url.drivername == "postgresql+asyncpg"
