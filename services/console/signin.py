"""Sign-in by API key: a random session id in an HttpOnly, SameSite=Strict cookie; the key itself never leaves the
server, and the person's roles and force are checked again on every page and action."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schemas.events import Role
from services.console import repository
from services.runtime import clock
from services.runtime.auth import KeyVerifier, Principal
from services.runtime.problems import ProblemError

COOKIE = "crimerec_console"

# Which roles may open each page (admin may open every one). Each service checks its own API again.
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "alerts": frozenset({Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR}),
    "pending": frozenset({Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR}),
    "flags": frozenset({Role.AUDITOR, Role.FCR, Role.SUPERVISOR, Role.DDM}),
    "compliance": frozenset({Role.AUDITOR, Role.FCR, Role.SUPERVISOR}),
    "audits": frozenset({Role.AUDITOR, Role.FCR, Role.SUPERVISOR}),
}
ALERT_HANDLERS = frozenset({Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR})
AUDIT_JUDGES = frozenset({Role.AUDITOR, Role.FCR})
PAGE_TITLES = {
    "alerts": "Live alerts",
    "pending": "Pending decisions",
    "flags": "Flags",
    "compliance": "Compliance",
    "audits": "Sample audits",
}


class NotSignedIn(ProblemError):
    """No live sign-in came with the request."""

    def __init__(self, detail: str = "Sign in with your API key first.") -> None:
        super().__init__(401, "Not signed in", detail)


@dataclass(frozen=True)
class SignedIn:
    """The person using the console: their principal, their key (for the services) and their session."""

    principal: Principal
    key: str
    session_sha256: bytes

    def may(self, roles: frozenset[Role]) -> bool:
        """True when the person holds one of `roles` (admin always may)."""
        return self.principal.has_any(roles | {Role.ADMIN})

    def may_open(self, page: str) -> bool:
        """True when the person's role may open the page."""
        return self.may(PAGE_ROLES[page])

    def pages(self) -> list[str]:
        """The pages the person may open, in menu order."""
        return [page for page in PAGE_ROLES if self.may_open(page)]

    def require(self, roles: frozenset[Role], what: str) -> None:
        """Refuses (403) someone without one of `roles`."""
        if not self.may(roles):
            held = ", ".join(sorted(r.value for r in self.principal.roles))
            needed = ", ".join(sorted(r.value for r in roles | {Role.ADMIN}))
            raise ProblemError(403, "Not allowed for your role", f"{what} needs one of: {needed}. You hold: {held}.")


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class SignIns:
    """Live sign-ins: their records in the database, the keys they stand for in this process's memory only."""

    def __init__(self, *, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], hours: float) -> None:
        self.verifier = KeyVerifier(engine)
        self.sessions = sessions
        self.lifetime = timedelta(hours=hours)
        # The key is kept only here, never in the cookie or the database: a restart signs everyone out.
        self._keys: dict[bytes, str] = {}

    async def sign_in(self, key: str) -> tuple[str, SignedIn] | str:
        """A new session id and who signed in, or why the key was refused."""
        key = key.strip()
        principal = await self.verifier.verify(key) if key else None
        if principal is None:
            return "That API key is unknown, malformed or revoked."
        if not any(principal.has_any(roles | {Role.ADMIN}) for roles in PAGE_ROLES.values()):
            held = ", ".join(sorted(r.value for r in principal.roles))
            return f"The console has no page for your role ({held}); use the API instead."
        session_id = secrets.token_urlsafe(32)
        digest = _digest(session_id)
        now = clock.now()
        async with self.sessions() as session, session.begin():
            await repository.insert_session(
                session,
                {
                    "session_sha256": digest,
                    "key_id": principal.key_id,
                    "roles": sorted(r.value for r in principal.roles),
                    "force": principal.force,
                    "created_at": now,
                    "expires_at": now + self.lifetime,
                },
            )
        self._keys[digest] = key
        return session_id, SignedIn(principal, key, digest)

    async def current(self, request: Request) -> SignedIn:
        """Who is signed in on this request; NotSignedIn when nobody (or the sign-in expired or the key was revoked)."""
        session_id = request.cookies.get(COOKIE, "")
        if not session_id or len(session_id) > 100:
            raise NotSignedIn()
        digest = _digest(session_id)
        key = self._keys.get(digest)
        now = clock.now()
        async with self.sessions() as session, session.begin():
            row = await repository.live_session(session, session_sha256=digest, now=now)
            if row is None or key is None:
                raise NotSignedIn("Your sign-in has ended; sign in again.")
            # Checked again each time (cached briefly), so a revoked key ends the sign-in at once.
            principal = await self.verifier.verify(key)
            if principal is None:
                await repository.end_session(session, session_sha256=digest, now=now, why="key revoked")
                self._keys.pop(digest, None)
                raise NotSignedIn("Your API key was revoked; sign in with another.")
        return SignedIn(principal, key, digest)

    async def sign_out(self, request: Request) -> None:
        """Ends the request's sign-in, if any."""
        session_id = request.cookies.get(COOKIE, "")
        if not session_id or len(session_id) > 100:
            return
        digest = _digest(session_id)
        self._keys.pop(digest, None)
        async with self.sessions() as session, session.begin():
            await repository.end_session(session, session_sha256=digest, now=clock.now(), why="signed out")
