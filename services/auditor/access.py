"""An access-log entry that says more than which records a route reached: the filters of an alert stream, the
positions sent, the callback subscribed (DPA 2018 s.62). The runtime's `Reading.touches` names only the records."""

from __future__ import annotations

from uuid import UUID

from services.runtime.access_log import Access
from services.runtime.routes import Reading


async def touches_saying(
    route: Reading, subject_type: str, *subject_ids: str | UUID, detail: str, access: Access | None = None
) -> None:
    """Logs, in the route's transaction, the caller's access to these records with what exactly was done; a block
    that then raises rolls it back with everything else."""
    await route.runtime.access_log.record(
        route.session, route.principal, access or route.access, subject_type=subject_type,
        subject_ids=[str(i) for i in subject_ids], detail=detail,
    )  # fmt: skip
