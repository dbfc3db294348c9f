"""API keys: shown once, stored only as a hash, refused when malformed, wrong or revoked."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Role
from services.runtime.auth import KeyVerifier, Principal, api_keys, issue_key


async def test_an_issued_key_is_stored_only_as_a_hash_and_verifies_to_its_principal(db: AsyncEngine) -> None:
    key = await issue_key(db, roles=[Role.OFFICER, Role.SUPERVISOR], force="GMP", label="bureau desk 3")
    prefix, key_id, secret = key.split("_", 2)
    assert prefix == "crk" and len(secret) >= 40  # 256 bits, URL-safe

    async with db.connect() as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.key_id == key_id))).one()
    assert secret not in repr(tuple(row)) and secret.encode() not in row.secret_sha256
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).digest()
    assert (sorted(row.roles), row.force, row.label, row.revoked_at) == (
        ["officer", "supervisor"],
        "GMP",
        "bureau desk 3",
        None,
    )

    principal = await KeyVerifier(db, cache_seconds=0).verify(key)
    assert principal == Principal(key_id=key_id, roles=frozenset({Role.OFFICER, Role.SUPERVISOR}), force="GMP")


@pytest.fixture
async def officer_key(db: AsyncEngine) -> str:
    return await issue_key(db, roles=[Role.OFFICER], force="GMP", label="runtime tests")


def _refused_variants(key: str) -> list[tuple[str, str]]:
    _, key_id, secret = key.split("_", 2)
    return [
        ("empty", ""),
        ("only the prefix", "crk"),
        ("no key id", f"crk__{secret}"),
        ("another prefix", f"xyz_{key_id}_{secret}"),
        ("missing its secret", f"crk_{key_id}"),
        ("right key id, wrong secret", f"crk_{key_id}_{'A' * len(secret)}"),
        ("right key id, empty secret", f"crk_{key_id}_"),
        ("right secret, unknown key id", f"crk_{'0' * 16}_{secret}"),
        ("a key id longer than any", f"crk_{'a' * 100}_{secret}"),
        ("far too long", f"{key}{'x' * 300}"),
        ("with its scheme still on", f"Bearer {key}"),
    ]


async def test_malformed_wrong_and_unknown_keys_are_refused(db: AsyncEngine, officer_key: str) -> None:
    verifier = KeyVerifier(db, cache_seconds=0)
    assert await verifier.verify(officer_key) is not None
    accepted = [what for what, key in _refused_variants(officer_key) if await verifier.verify(key) is not None]
    assert accepted == []


async def test_a_key_with_a_nul_byte_is_refused_not_an_error(db: AsyncEngine) -> None:
    assert await KeyVerifier(db, cache_seconds=0).verify("crk_ab\x00cd_secret") is None


async def test_a_revoked_key_is_refused(db: AsyncEngine, officer_key: str) -> None:
    key_id = officer_key.split("_", 2)[1]
    verifier = KeyVerifier(db, cache_seconds=0)
    assert await verifier.verify(officer_key) is not None

    async with db.begin() as conn:
        await conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=api_keys.c.created_at))

    assert await verifier.verify(officer_key) is None  # no cache: the revocation counts at once
    assert await KeyVerifier(db, cache_seconds=0).verify(officer_key) is None
