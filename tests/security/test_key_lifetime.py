"""API keys have a lifetime: a revoked or expired key opens nothing, on any service (issue 22)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Services
from tests.security.support import bearer, force_keys, key_id

ROUTES = (("intake", "/v1/contacts/00000000-0000-0000-0000-000000000000"), ("recorder", "/v1/pending"))
ROUTES += (("auditor", "/v1/flags"),)


async def _answers(services: Services, key: str) -> list[int]:
    return [(await getattr(services, name).get(path, headers=bearer(key))).status_code for name, path in ROUTES]


async def test_a_revoked_key_opens_nothing(services: Services, engines: EngineSettings, db: AsyncEngine) -> None:
    key = (await force_keys(engines, "CLE", "security-revoked"))[Role.ADMIN]
    async with db.begin() as conn:
        await conn.execute(text("UPDATE auth.api_keys SET revoked_at = now() WHERE key_id = :k"), {"k": key_id(key)})
    assert await _answers(services, key) == [401, 401, 401]


async def test_an_expired_key_opens_nothing(services: Services, engines: EngineSettings, db: AsyncEngine) -> None:
    key = (await force_keys(engines, "CLE", "security-expired"))[Role.ADMIN]
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE auth.api_keys SET expires_at = now() - interval '1 minute' WHERE key_id = :k"),
            {"k": key_id(key)},
        )
    assert await _answers(services, key) == [401, 401, 401]


async def test_every_key_is_issued_with_an_expiry(engines: EngineSettings, db: AsyncEngine) -> None:
    key = (await force_keys(engines, "CLE", "security-lifetime"))[Role.OFFICER]
    async with db.connect() as conn:
        expires_at = await conn.scalar(
            text("SELECT expires_at - created_at FROM auth.api_keys WHERE key_id = :k"), {"k": key_id(key)}
        )
    assert expires_at is not None and expires_at.days <= 366
