"""Work done for a person on the auditor's records: one transaction that, as it commits, logs what they consulted
or changed (DPA 2018 s.62)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.access_log import Access
from services.runtime.auth import Principal
from services.runtime.http import ServiceRuntime
from services.runtime.messaging import UnitOfWork


@dataclass
class LoggedWork:
    """The open transaction of a person's request, and what its access-log entry will name."""

    uow: UnitOfWork
    subjects: list[str]
    detail: str | None = None
    logged: bool = True  # False: nothing was consulted or changed, so there is nothing to log

    @property
    def session(self) -> AsyncSession:
        """The transaction's session."""
        return self.uow.session


@contextlib.asynccontextmanager
async def logged(
    runtime: ServiceRuntime,
    principal: Principal,
    access: Access,
    subject_type: str,
    *,
    subjects: Sequence[str] = (),
    detail: str | None = None,
) -> AsyncIterator[LoggedWork]:
    """A transaction for a person's request that, ending cleanly, logs their access to the subjects named (here,
    or on the work once known) and commits the log with the work; a request refused midway logs nothing."""
    async with runtime.unit_of_work() as uow:
        work = LoggedWork(uow=uow, subjects=list(subjects), detail=detail)
        yield work
        if work.logged:
            await runtime.access_log.record(
                uow.session, principal, access, subject_type=subject_type, subject_ids=work.subjects,
                detail=work.detail,
            )  # fmt: skip
