"""What the intake tests share: posting contacts, reading problems, and counting what was stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.models import contacts, idempotency_keys, outbox

PROBLEM_JSON = "application/problem+json"


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"test-{uuid.uuid4().hex}"


async def post(
    client: httpx.AsyncClient,
    body: Any,
    *,
    auth: dict[str, str],
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """POST /v1/contacts with a credential, any other `headers` and (unless `key` is "") an Idempotency-Key."""
    headers = dict(auth) | (headers or {})
    if key != "":
        headers["Idempotency-Key"] = key or new_key()
    return await client.post("/v1/contacts", json=body, headers=headers, **kwargs)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


def error_fields(body: dict[str, Any]) -> list[str]:
    """The `field` of every entry in a problem's `errors`."""
    return [error["field"] for error in body.get("errors") or []]


def error_for(body: dict[str, Any], field: str) -> str:
    """The message a problem gives for one field (fails when the field is not named)."""
    messages = [error["message"] for error in body.get("errors") or [] if error["field"] == field]
    assert messages, f"{field} not named in {body.get('errors')}"
    return messages[0]


@dataclass(frozen=True)
class Stored:
    """How many rows intake holds: contacts, idempotency records, outbox events."""

    contacts: int
    keys: int
    events: int


async def stored(db: AsyncEngine) -> Stored:
    """Counts every contact, idempotency record and outbox row in intake's schema."""
    async with db.connect() as conn:
        return Stored(
            contacts=await conn.scalar(select(func.count()).select_from(contacts)) or 0,
            keys=await conn.scalar(select(func.count()).select_from(idempotency_keys)) or 0,
            events=await conn.scalar(select(func.count()).select_from(outbox)) or 0,
        )


async def contacts_for_source(db: AsyncEngine, reference: str, *, force: str | None = None) -> list[Any]:
    """The stored contacts for a caller's incident reference (any system), optionally of one force."""
    query = select(contacts).where(contacts.c.source_reference == reference)
    if force is not None:
        query = query.where(contacts.c.force == force)
    async with db.connect() as conn:
        return list((await conn.execute(query)).all())


async def keys_named(db: AsyncEngine, key: str) -> list[Any]:
    """Every idempotency record with this key string (any client)."""
    async with db.connect() as conn:
        return list((await conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key))).all())


async def events_for(db: AsyncEngine, contact_id: str | uuid.UUID) -> list[Any]:
    """The outbox rows keyed by a contact."""
    async with db.connect() as conn:
        return list((await conn.execute(select(outbox).where(outbox.c.key == str(contact_id)))).all())
