"""The connection pool: a connection the server closed is replaced before anyone uses it."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.database import create_engine
from services.runtime.settings import EngineSettings


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    engines: EngineSettings, db: AsyncEngine
) -> None:
    engine = create_engine(engines.model_copy(update={"database_pool_size": 1}))
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(select(func.pg_backend_pid()))
        # The server ends the pooled connection (as a restart or an idle timeout would).
        async with db.connect() as admin:
            assert await admin.scalar(select(func.pg_terminate_backend(first)))
        await asyncio.sleep(0.5)  # the event loop reads the closed socket

        async with engine.connect() as conn:
            second = await conn.scalar(select(func.pg_backend_pid()))
        assert second != first
    finally:
        await engine.dispose()
