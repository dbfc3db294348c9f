"""Two recorders in one consumer group share the contacts' partitions and still decide each contact exactly once."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.recorder.app import create_app
from services.recorder.models import crimes, decisions
from services.recorder.settings import RecorderSettings
from services.runtime.settings import EngineSettings
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key


async def test_two_recorders_in_one_group_decide_each_contact_once(
    services: Services, keys: Keys, engines: EngineSettings, db: AsyncEngine
) -> None:
    second = create_app(RecorderSettings(engines=engines))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(second.router.lifespan_context(second))
        runtime = second.state.runtime

        async def second_has_partitions() -> bool:
            runner = runtime.runners.get("recorder.contacts")
            return runner is not None and bool(runner.consumer.assignment())

        await eventually(second_has_partitions, within=40)  # the group has rebalanced onto both recorders

        async def post() -> str:
            response = await services.intake.post(
                "/v1/contacts", json=contact(), headers=keys.auth(Role.CALL_HANDLER) | idempotency_key()
            )
            assert response.status_code == 201, response.text
            contact_id: str = response.json()["contact_id"]
            return contact_id

        ids = await asyncio.gather(*(post() for _ in range(40)))

        async def all_decided() -> bool:
            async with db.connect() as conn:
                decided = await conn.scalar(
                    select(func.count()).select_from(decisions).where(decisions.c.contact_id.in_(ids))
                )
            return decided == len(ids)

        await eventually(all_decided, within=60)
        async with db.connect() as conn:
            per_contact = (
                await conn.execute(
                    select(crimes.c.contact_id, func.count())
                    .where(crimes.c.contact_id.in_(ids))
                    .group_by(crimes.c.contact_id)
                )
            ).all()
        assert sorted(str(c) for c, _ in per_contact) == sorted(ids)
        assert {n for _, n in per_contact} == {1}  # one assault each, recorded once, whichever recorder took it
        # Both recorders did some of the work: the partitions really were shared.
        handled_by_second = runtime.runners["recorder.contacts"].consumer.assignment()
        assert handled_by_second
