"""Idempotency keys are kept at least the configured time (default 24 hours), then forgotten."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.intake import service
from services.intake.models import idempotency_keys, outbox
from services.intake.settings import IntakeSettings
from services.runtime.database import create_session_factory
from services.runtime.messaging import unit_of_work
from tests.conftest import Keys, Services
from tests.support import contact


async def test_a_key_younger_than_the_window_is_kept_and_an_older_one_forgotten(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    fresh, old = contact(), contact()
    for body, key in ((fresh, "expiry-fresh"), (old, "expiry-old")):
        response = await services.intake.post(
            "/v1/contacts", json=body, headers=keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": key}
        )
        assert response.status_code == 201
    async with db.begin() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "expiry-old")
            .values(created_at=func.now() - timedelta(hours=25))
        )
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "expiry-fresh")
            .values(created_at=func.now() - timedelta(hours=23))
        )

    keep = timedelta(hours=IntakeSettings().idempotency_hours)
    async with unit_of_work(create_session_factory(db), outbox) as uow:
        await service.expire_idempotency_keys(uow, keep=keep)

    async with db.connect() as conn:
        remaining = set(
            (
                await conn.scalars(
                    select(idempotency_keys.c.key).where(idempotency_keys.c.key.in_(["expiry-fresh", "expiry-old"]))
                )
            ).all()
        )
    assert remaining == {"expiry-fresh"}
    # The fresh key still answers a retry with the first response.
    again = await services.intake.post(
        "/v1/contacts", json=fresh, headers=keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": "expiry-fresh"}
    )
    assert again.status_code == 201


def test_the_window_cannot_be_set_below_24_hours() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        IntakeSettings(idempotency_hours=23)
