"""API keys: hashed at rest, each mapping to a principal with roles and a force. Deny by default."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Actor, Role
from services.runtime.problems import ProblemError

AUTH_SCHEMA = "auth"
metadata = MetaData(schema=AUTH_SCHEMA)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("roles", ARRAY(String(20)), nullable=False),
    Column("force", String(10), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False, server_default=text("now() + interval '90 days'")),
)

KEY_LIFETIME = timedelta(days=90)
"""How long a key is good for unless issued otherwise: a lost key stops working by itself."""

KEY_PREFIX = "crk"
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{20,100}")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its roles and its force."""

    key_id: str
    roles: frozenset[Role]
    force: str

    def has_any(self, roles: set[Role] | frozenset[Role]) -> bool:
        """True when the principal holds one of `roles`."""
        return bool(self.roles & roles)

    def actor(self) -> Actor:
        """The principal as it is named in events."""
        return Actor(principal=self.key_id, roles=sorted(self.roles), force=self.force)


def _digest(secret: str) -> bytes:
    # API keys carry 256 bits of randomness, so a fast hash is enough; no password stretching is needed.
    return hashlib.sha256(secret.encode()).digest()


async def issue_key(
    engine: AsyncEngine, *, roles: list[Role], force: str, label: str = "", expires_in: timedelta = KEY_LIFETIME
) -> str:
    """Creates a key good for `expires_in` and returns it; only its hash is stored, so it cannot be shown again."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_sha256=_digest(secret),
                roles=[r.value for r in roles],
                force=force,
                label=label,
                expires_at=func.now() + expires_in,
            )
        )
    return f"{KEY_PREFIX}_{key_id}_{secret}"


class KeyVerifier:
    """Checks bearer keys against the database, trusting a verified key for a short while."""

    def __init__(self, engine: AsyncEngine, cache_seconds: float = 30.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def verify(self, key: str) -> Principal | None:
        """The principal a key stands for, or None when it is unknown, malformed, revoked or expired."""
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        parts = key.split("_", 2)
        # Check the shape before the database sees it: a NUL byte or odd characters must be a 401, not a 500.
        if len(parts) != 3 or parts[0] != KEY_PREFIX or len(key) > 200 or not _KEY_ID.fullmatch(parts[1]):
            return None
        if not _SECRET.fullmatch(parts[2]):
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        api_keys.c.secret_sha256,
                        api_keys.c.roles,
                        api_keys.c.force,
                        (func.extract("epoch", api_keys.c.expires_at - func.now())).label("seconds_left"),
                    ).where(
                        api_keys.c.key_id == parts[1],
                        api_keys.c.revoked_at.is_(None),
                        api_keys.c.expires_at > func.now(),
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
            return None
        principal = Principal(key_id=parts[1], roles=frozenset(Role(r) for r in row.roles), force=row.force)
        if len(self._cache) > 10_000:
            self._cache.clear()
        # Trusted for a short while, and never past the key's end.
        self._cache[key] = (time.monotonic() + min(self.cache_seconds, float(row.seconds_left)), principal)
        return principal


async def authenticate(request: Request) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>`; 401 without a valid one."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ProblemError(
            401,
            "Not authenticated",
            "Send an API key as `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: KeyVerifier = request.app.state.runtime.keys
    principal = await verifier.verify(key.strip())
    if principal is None:
        raise ProblemError(
            401,
            "Not authenticated",
            "The API key is unknown or revoked.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_roles(*roles: Role) -> object:
    """A dependency that lets through only principals holding one of `roles` (admin always passes)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(allowed):
            raise ProblemError(
                403,
                "Forbidden",
                f"This needs one of the roles: {', '.join(sorted(r.value for r in allowed))}.",
            )
        return principal

    return Depends(check)


def require_own_force(principal: Principal, force: str | None, what: str) -> None:
    """Refuses (403) a list asked for another force's `what` ("records", "flags"); None means the caller's own."""
    if force is not None and force != principal.force:
        raise ProblemError(403, "Forbidden", f"A {principal.force} credential sees only {principal.force} {what}.")


def require_force(principal: Principal, force: str, not_found: str) -> None:
    """Refuses a principal of one force any sight of another force's data."""
    if principal.force != force:
        # 404 with the very words an unknown record gets: another force's records are not even acknowledged.
        raise ProblemError(404, "Not found", not_found)
