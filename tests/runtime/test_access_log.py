"""The personal-data access log (DPA 2018 s.62): every access logged, append-only, tampering detected."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import MetaData, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from schemas.events import Role
from services.intake.models import access_log as intake_access_log
from services.runtime.access_log import Access, AccessLog, access_log_tables, append_only_sql
from services.runtime.auth import Principal
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key

OFFICER = Principal(key_id="k-officer", roles=frozenset({Role.OFFICER}), force="GMP")


@pytest.fixture
async def log(db: AsyncEngine) -> AsyncIterator[AccessLog]:
    """An access log in a schema of its own, so tampering with it cannot disturb the running services."""
    schema = f"t_access_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=schema)
    entries, seals = access_log_tables(metadata)
    async with db.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(metadata.create_all)
        for statement in append_only_sql(schema):
            await conn.execute(text(statement))
    yield AccessLog(entries, seals)
    async with db.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


async def write(db: AsyncEngine, log: AccessLog, *ids: str, access: Access = Access.CONSULTATION) -> None:
    async with AsyncSession(db) as session, session.begin():
        await log.record(session, OFFICER, access, subject_type="contact", subject_ids=list(ids))


async def test_sealed_entries_verify_and_every_entry_says_who_what_when(db: AsyncEngine, log: AccessLog) -> None:
    await write(db, log, "c1", "c2")
    await write(db, log, "c3", access=Access.DISCLOSURE)
    assert await log.seal(db) == 3
    await write(db, log, "c4")
    assert await log.seal(db) == 1
    assert await log.seal(db) == 0  # nothing left unsealed
    assert await log.verify(db) == []
    async with db.connect() as conn:
        rows = (await conn.execute(select(log.entries).order_by(log.entries.c.id))).all()
    assert [(r.subject_id, r.access, r.principal, r.force) for r in rows] == [
        ("c1", "consultation", "k-officer", "GMP"),
        ("c2", "consultation", "k-officer", "GMP"),
        ("c3", "disclosure", "k-officer", "GMP"),
        ("c4", "consultation", "k-officer", "GMP"),
    ]
    assert all(r.at is not None and r.seal_id is not None for r in rows)


@pytest.mark.parametrize(
    "statement",
    [
        "delete",
        "update-content",
        "reseal",
    ],
)
async def test_the_log_refuses_deletes_and_changes(db: AsyncEngine, log: AccessLog, statement: str) -> None:
    await write(db, log, "c1")
    await log.seal(db)
    entries = log.entries
    change = {
        "delete": delete(entries),
        "update-content": update(entries).values(subject_id="someone-else"),
        "reseal": update(entries).values(seal_id=999),
    }[statement]
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.begin() as conn:
            await conn.execute(change)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.begin() as conn:
            await conn.execute(delete(log.seals))


@pytest.mark.parametrize("tamper", ["edit", "remove", "insert-into-seal"])
async def test_tampering_past_the_triggers_is_detected(db: AsyncEngine, log: AccessLog, tamper: str) -> None:
    await write(db, log, "c1", "c2", "c3")
    await log.seal(db)
    assert await log.verify(db) == []
    table = f"{log.entries.schema}.access_log"
    async with db.begin() as conn:
        # Someone with superuser rights switches the guard off to cover their tracks.
        await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER access_log_append_only"))
        if tamper == "edit":
            await conn.execute(text(f"UPDATE {table} SET principal = 'nobody' WHERE subject_id = 'c2'"))
        elif tamper == "remove":
            await conn.execute(text(f"DELETE FROM {table} WHERE subject_id = 'c2'"))
        else:
            await conn.execute(
                text(
                    f"INSERT INTO {table} (at, principal, roles, force, access, subject_type, subject_id, "
                    f"content_sha256, seal_id) SELECT at, principal, roles, force, access, subject_type, 'c9', "
                    f"content_sha256, seal_id FROM {table} WHERE subject_id = 'c1'"
                )
            )
    problems = await log.verify(db)
    assert problems, "tampering went unnoticed"


async def test_intake_logs_the_collection_and_each_consultation_of_a_contact(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    response = await services.intake.post(
        "/v1/contacts", json=contact(), headers=keys.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    contact_id = response.json()["contact_id"]
    await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.SUPERVISOR))
    refused = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.SUPERVISOR, other=True))
    assert refused.status_code == 404  # another force: not shown, and not logged as a consultation

    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(intake_access_log.c.access, intake_access_log.c.roles, intake_access_log.c.force)
                .where(intake_access_log.c.subject_id == contact_id)
                .order_by(intake_access_log.c.id)
            )
        ).all()
    assert [(r.access, r.roles, r.force) for r in rows] == [
        ("collection", ["call_handler"], "GMP"),
        ("consultation", ["supervisor"], "GMP"),
    ]


async def test_the_running_service_seals_its_log(services: Services, keys: Keys, db: AsyncEngine) -> None:
    await services.intake.post("/v1/contacts", json=contact(), headers=keys.auth(Role.CALL_HANDLER) | idempotency_key())
    intake = AccessLog(intake_access_log, access_log_tables(MetaData(schema="intake"))[1])

    async def all_sealed() -> bool:
        async with db.connect() as conn:
            unsealed = await conn.scalar(
                select(text("count(*)")).select_from(intake_access_log).where(intake_access_log.c.seal_id.is_(None))
            )
        return unsealed == 0

    await eventually(all_sealed, within=15)
    assert await intake.verify(db) == []
