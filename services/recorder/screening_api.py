"""The recorder's screening routes (issue 18): a contact's narrative screening, the review queue, and reviews;
scoped to the caller's force."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from schemas.events import Role
from schemas.screening import OffenceFamily
from services.recorder import repository
from services.recorder.api import policy_of
from services.recorder.schemas import ReviewCreate, ReviewPage, ScreeningRead
from services.recorder.screening import Review, review_screening
from services.runtime import clock
from services.runtime.auth import Principal, require_own_force, require_roles
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, ProblemError
from services.runtime.routes import reading, writing

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

SCREEN_READERS = require_roles(Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR)
REVIEWERS = require_roles(Role.SUPERVISOR, Role.DDM, Role.FCR)


def _screening(row: Any) -> ScreeningRead:
    return ScreeningRead.model_validate(row._mapping)


@router.get(
    "/contacts/{contact_id}/screening",
    response_model=ScreeningRead,
    tags=["screening"],
    summary="Read a contact's narrative screening",
)
async def get_screening(
    request: Request, contact_id: UUID, principal: Annotated[Principal, SCREEN_READERS]
) -> ScreeningRead:
    """What the narrative screener found in a contact not recorded as a crime at first contact, and its review."""
    async with reading(request, principal) as route:
        found = await repository.get_screening(route.session, contact_id)
        row = route.own(found, f"No screening for contact {contact_id}.")
        route.touches("screening", contact_id)
    return _screening(row)


def _cursor(after: str | None) -> tuple[datetime, UUID] | None:
    if after is None:
        return None
    try:
        deadline, contact_id = after.rsplit("_", 1)
        moment = datetime.fromisoformat(deadline)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, UUID(contact_id)
    except ValueError:
        raise ProblemError(
            422, "Request is not valid", "after is not a cursor this queue gave out.",
            errors=[FieldError(field="query.after", message="pass next_after from the previous page")],
        ) from None  # fmt: skip


@router.get("/screening/reviews", response_model=ReviewPage, tags=["screening"], summary="The screening review queue")
async def screening_reviews(
    request: Request,
    principal: Annotated[Principal, SCREEN_READERS],
    force: Annotated[str | None, Query(max_length=10, description="Defaults to your force.")] = None,
    family: OffenceFamily | None = None,
    max_hours_left: Annotated[
        float | None, Query(ge=-8760, le=8760, description="Only screens due within this many hours (negative: late).")
    ] = None,
    after: Annotated[str | None, Query(max_length=80, description="next_after of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ReviewPage:
    """Positive screens not yet reviewed, the one whose deadline comes first at the top."""
    require_own_force(principal, force, "screens")
    cursor = _cursor(after)
    deadline_before = None if max_hours_left is None else clock.now() + timedelta(hours=max_hours_left)
    async with reading(request, principal) as route:
        rows = await repository.list_reviews(
            route.session, force=principal.force, limit=limit, family=family.value if family else None,
            deadline_before=deadline_before, after=cursor,
        )  # fmt: skip
        route.touches("screening", *(r.contact_id for r in rows))
    items = [_screening(r) for r in rows]
    last = items[-1] if len(items) == limit else None
    return ReviewPage(items=items, next_after=f"{last.review_deadline.isoformat()}_{last.contact_id}" if last else None)


@router.post(
    "/screening/reviews/{contact_id}",
    response_model=ScreeningRead,
    tags=["screening"],
    summary="Review a positive screen",
)
async def post_screening_review(
    request: Request, contact_id: UUID, body: ReviewCreate, principal: Annotated[Principal, REVIEWERS]
) -> ScreeningRead:
    """Records the crime the narrative discloses (the normal record path: the rules count the offences, the deadline
    is the first contact's) or confirms the decision not to record one, with a written rationale. Once only."""
    async with writing(request, principal) as route:
        result = await review_screening(
            route.uow, contact_id=contact_id, by=principal.actor(),
            review=Review(action=body.action, rationale=body.rationale, offences=tuple(body.offences)),
            policy=policy_of(request),
        )  # fmt: skip
        route.touches("screening", contact_id)
        route.touches("crime", *route.accepted(result))
    return await get_screening(request, contact_id, principal)
