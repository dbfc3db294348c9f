"""Floors for bench/intake.py: the least a durable intake must do, with nothing of crimerec's own code around it.

Both validate the same payload, group-commit across concurrent requests (the same `GroupCommit` intake uses) with
raw asyncpg, and answer 201 only after COMMIT. No credential check, no idempotency look-up, no catalogue checks, no
SQLAlchemy, no broker:

- `app` stores the contact with one INSERT: the floor of any intake that acknowledges only what is durable;
- `required_app` writes the four rows issue 3 requires in that transaction, as intake writes them: the contact,
  its idempotency record, its `contact.received` event in the outbox and its access-log entry (DPA 2018 s.62).

Their throughput over the bare endpoint's bounds the ratio any intake doing that much can reach on this stack.
Tables are copies (LIKE … INCLUDING ALL) of intake's in a `floor` schema, so the real intake's relay never sees them.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pydantic_core
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from schemas.contacts import ContactCreate
from services.runtime.database import asyncpg_dsn
from services.runtime.group_commit import GroupCommit

TABLES = ("contacts", "idempotency_keys", "outbox", "access_log")
pools: list[asyncpg.Pool] = []


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(asyncpg_dsn(make_url(os.environ["CRIMEREC_DATABASE_URL"])), min_size=2)
    async with pool.acquire() as conn, conn.transaction():
        # Both floors start at once: one creates the tables, the other waits for it (IF NOT EXISTS alone races).
        await conn.execute("SELECT pg_advisory_xact_lock(20261203)")
        await conn.execute(
            "CREATE SCHEMA IF NOT EXISTS floor; "
            + "".join(f"CREATE TABLE IF NOT EXISTS floor.{t} (LIKE intake.{t} INCLUDING ALL); " for t in TABLES)
        )
    pools.append(pool)
    yield
    await pool.close()


async def one_row(contacts: Sequence[ContactCreate]) -> list[uuid.UUID]:
    """Stores the contacts, one row each, in one transaction; their ids once committed."""
    ids = [uuid.uuid4() for _ in contacts]
    async with pools[0].acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO floor.contacts (contact_id, force, source_system, source_reference, received_at, body, "
            "submitted_by, event_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'bench', $1)",
            [
                (i, c.force, c.source.system, c.source.reference, c.received_at, c.model_dump_json())
                for i, c in zip(ids, contacts, strict=True)
            ],
        )
    return ids


async def required_rows(contacts: Sequence[ContactCreate]) -> list[uuid.UUID]:
    """Stores the contacts with their idempotency records, events and access-log entries, in one transaction."""
    ids = [uuid.uuid4() for _ in contacts]
    now = datetime.now(UTC)
    rows: dict[str, list[tuple[object, ...]]] = {t: [] for t in TABLES}
    for contact_id, contact in zip(ids, contacts, strict=True):
        body = contact.model_dump_json()
        event = pydantic_core.to_json(
            {"event_id": str(contact_id), "event_type": "contact.received", "contact_id": str(contact_id),
             "payload": {"contact": pydantic_core.from_json(body)}}
        )  # fmt: skip
        response = f'{{"contact_id": "{contact_id}", "status": "received"}}'
        rows["contacts"].append(
            (contact_id, contact.force, contact.source.system, contact.source.reference, contact.received_at, body)
        )
        digest = hashlib.sha256(body.encode()).digest()
        rows["idempotency_keys"].append((uuid.uuid4().hex, digest, response, contact_id))
        rows["outbox"].append((contact_id, str(contact_id), event))
        rows["access_log"].append((now, str(contact_id), hashlib.sha256(str(contact_id).encode()).digest()))
    # One statement for the four tables (arrays of columns through unnest): one round trip a batch.
    columns = [list(column) for table in TABLES for column in zip(*rows[table], strict=True)]
    await pools[0].execute(
        """WITH c AS (
             INSERT INTO floor.contacts (contact_id, force, source_system, source_reference, received_at, body,
                                         submitted_by, event_id)
             SELECT id, f, s, r, t, b::jsonb, 'bench', id
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
               AS x(id, f, s, r, t, b)),
           k AS (
             INSERT INTO floor.idempotency_keys (client_id, key, request_sha256, status_code, response, contact_id)
             SELECT 'bench', k, h, 201, r::jsonb, id FROM unnest($7::text[], $8::bytea[], $9::text[], $10::uuid[])
               AS x(k, h, r, id)),
           o AS (
             INSERT INTO floor.outbox (event_id, topic, key, value, headers)
             SELECT id, 'contacts', k, v, '{}' FROM unnest($11::uuid[], $12::text[], $13::bytea[]) AS x(id, k, v))
           INSERT INTO floor.access_log (at, principal, roles, force, access, subject_type, subject_id, content_sha256)
           SELECT t, 'bench', '{call_handler}', 'GMP', 'collection', 'contact', s, h
           FROM unnest($14::timestamptz[], $15::text[], $16::bytea[]) AS x(t, s, h)""",
        *columns,
    )
    return ids


def floor_app(commit: GroupCommit[ContactCreate, uuid.UUID]) -> FastAPI:
    """A validate-and-store endpoint committing through `commit`."""
    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/contacts", status_code=201)
    async def post_contact(contact: ContactCreate) -> dict[str, str]:
        return {"contact_id": str(await commit.submit(contact)), "status": "received"}

    return app


app = floor_app(GroupCommit(one_row))
required_app = floor_app(GroupCommit(required_rows))
