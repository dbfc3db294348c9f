"""How a route is declared rather than copied: the helper opens the request's transaction, logs the caller's access
to the records it touched in that same transaction (DPA 2018 s.62), and turns a service's refusal into a problem.

    async with writing(request, principal) as route:
        route.accepted(await service.reclassify(route.uow, crime_reference=crime_reference, ...))
        route.touches("crime", crime_reference)

The access is logged when the block ends without an exception, just before the commit; a block that raises (a 404,
a refusal) rolls back and logs nothing, as nothing was shown or changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.access_log import Access, entries
from services.runtime.auth import Principal, require_force
from services.runtime.http import runtime_of
from services.runtime.messaging import UnitOfWork
from services.runtime.problems import FieldError, ProblemError
from services.runtime.refusals import Refused
from services.runtime.service_runtime import ServiceRuntime

T = TypeVar("T")
R = TypeVar("R")


def problem_of(refusal: Refused) -> ProblemError:
    """The problem+json answer to a refusal, naming each body field it objects to."""
    errors = [FieldError(field=f"body.{name}", message=message) for name, message in refusal.errors] or None
    return ProblemError(refusal.status, refusal.title, refusal.detail, errors=errors)


@dataclass
class Reading:
    """One request's transaction, its caller, and the records it reached (logged as `access` when it succeeds)."""

    runtime: ServiceRuntime
    principal: Principal
    session: AsyncSession
    access: Access
    _touched: list[tuple[Access, str, list[str]]] = field(default_factory=list)

    def touches(self, subject_type: str, *subject_ids: str | UUID, access: Access | None = None) -> None:
        """Notes that the request reached these records of one type; logged (as the route's access unless another
        is given) in the request's transaction when the block ends well."""
        if subject_ids:
            self._touched.append((access or self.access, subject_type, [str(i) for i in subject_ids]))

    def own(self, row: R | None, not_found: str) -> R:
        """The row, if it exists and is the caller's force's; otherwise 404 with `not_found`, the very words an
        unknown record gets (another force's records are not even acknowledged)."""
        if row is None:
            raise ProblemError(404, "Not found", not_found)
        require_force(self.principal, cast(Any, row).force, not_found)
        return row

    async def log_access(self) -> None:
        """Writes the access log entries for everything touched so far (one statement), then forgets them."""
        rows = [
            entry
            for access, subject_type, ids in self._touched
            for entry in entries(self.principal, access, subject_type=subject_type, subject_ids=ids)
        ]
        self._touched.clear()
        await self.runtime.access_log.write(self.session, rows)


@dataclass
class Writing(Reading):
    """A changing request's unit of work: state and staged events commit together, with the access log."""

    uow: UnitOfWork = field(kw_only=True)

    def accepted(self, result: T | Refused) -> T:
        """The service's result, or (for a refusal) the problem it maps to, raised: the block rolls back."""
        if isinstance(result, Refused):
            raise problem_of(result)
        return result


@asynccontextmanager
async def reading(
    request: Request, principal: Principal, *, access: Access = Access.CONSULTATION
) -> AsyncIterator[Reading]:
    """A read route's transaction; what the block `touches` is logged as consulted (or `access`) before it commits."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        route = Reading(runtime, principal, session, access)
        yield route
        await route.log_access()


@asynccontextmanager
async def writing(
    request: Request, principal: Principal, *, access: Access = Access.ALTERATION
) -> AsyncIterator[Writing]:
    """A write route's unit of work; what the block `touches` is logged as altered (or `access`), and the events it
    staged reach the outbox, in the one transaction."""
    runtime = runtime_of(request)
    async with runtime.unit_of_work() as uow:
        route = Writing(runtime, principal, uow.session, access, uow=uow)
        yield route
        await route.log_access()
