"""Async SQLAlchemy on asyncpg: one engine per process, sessions committed at the boundary."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.runtime.settings import EngineSettings


def create_engine(settings: EngineSettings) -> AsyncEngine:
    """The process's connection pool to PostgreSQL."""
    return create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (we read them back into responses)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str | URL) -> str:
    """The same database as a plain libpq DSN, for raw asyncpg connections (LISTEN, COPY)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
