"""The recorder's HTTP routes: crime records and decisions, scoped to the caller's force."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request

from schemas.events import (
    CancellationGrounds,
    Role,
)
from services.recorder import lifecycle, repository
from services.recorder.pending import resolve_pending
from services.recorder.recording import RecorderPolicy
from services.recorder.rules.resolution import Resolution
from services.recorder.schemas import (
    CancellationDecisionCreate,
    CancellationRequestCreate,
    CancellationRequestRead,
    CrimeDetail,
    CrimePage,
    CrimeRead,
    DecisionCreate,
    DecisionRead,
    HistoryEntry,
    PendingPage,
    ReclassificationCreate,
    VictimNotificationCreate,
)
from services.runtime.auth import Principal, require_own_force, require_roles
from services.runtime.problems import PROBLEM_RESPONSES
from services.runtime.routes import reading, writing

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR, Role.CALL_HANDLER)
CHANGERS = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR)
AUTHORISERS = require_roles(Role.SUPERVISOR, Role.DDM, Role.FCR)
CRN = Annotated[str, Path(pattern=r"^[A-Z]{2,5}-\d{4}-\d{6,}$", max_length=40, description="e.g. GMP-2026-000123")]


def _crime(row: Any) -> CrimeRead:
    return CrimeRead.model_validate(row._mapping)


@router.get("/crimes/{crime_reference}", response_model=CrimeDetail, tags=["crimes"], summary="Read a crime record")
async def get_crime(request: Request, crime_reference: CRN, principal: Annotated[Principal, READERS]) -> CrimeDetail:
    """One crime record of your force, with its history."""
    async with reading(request, principal) as route:
        row = route.own(await repository.get_crime(route.session, crime_reference), f"No crime {crime_reference}.")
        history = await repository.history_of(route.session, crime_reference)
        route.touches("crime", crime_reference)
    return CrimeDetail.model_validate(
        dict(row._mapping)
        | {
            "history": [
                HistoryEntry(at=h.at, event_type=h.event_type, by=h.by_principal, detail=h.detail) for h in history
            ]
        }
    )


@router.get("/crimes", response_model=CrimePage, tags=["crimes"], summary="List crime records")
async def list_crimes(
    request: Request,
    principal: Annotated[Principal, READERS],
    force: Annotated[str | None, Query(max_length=10, description="Defaults to your force.")] = None,
    contact_id: UUID | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    ho_class: Annotated[str | None, Query(alias="class", max_length=10)] = None,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CrimePage:
    """Your force's crime records, filtered by contact, status or class, in reference order."""
    require_own_force(principal, force, "records")
    async with reading(request, principal) as route:
        rows = await repository.list_crimes(
            route.session, force=principal.force, contact_id=contact_id, status=status, ho_class=ho_class,
            after=after, limit=limit,
        )  # fmt: skip
        route.touches("crime", *(r.crime_reference for r in rows))
    items = [_crime(row) for row in rows]
    return CrimePage(items=items, next_after=items[-1].crime_reference if len(items) == limit else None)


@router.get(
    "/contacts/{contact_id}/decision",
    response_model=DecisionRead,
    tags=["decisions"],
    summary="Read a decision",
)
async def get_decision(request: Request, contact_id: UUID, principal: Annotated[Principal, READERS]) -> DecisionRead:
    """What the recording standard decided for a contact, why, and the crimes it recorded."""
    async with reading(request, principal) as route:
        found = await repository.get_decision(route.session, contact_id)
        row = route.own(found, f"No decision yet for contact {contact_id}.")
        crimes = await repository.list_crimes(route.session, force=principal.force, contact_id=contact_id, limit=500)
        route.touches("decision", contact_id)
    return DecisionRead.model_validate(dict(row._mapping) | {"crime_references": [c.crime_reference for c in crimes]})


# ------------------------------------------------------------------------------------------------ changes


def policy_of(request: Request) -> RecorderPolicy:
    """The recording policy the app applies."""
    policy: RecorderPolicy = request.app.state.policy
    return policy


@router.get("/pending", response_model=PendingPage, tags=["decisions"], summary="The pending-decision work queue")
async def pending(
    request: Request,
    principal: Annotated[Principal, READERS],
    force: Annotated[str | None, Query(max_length=10, description="Defaults to your force.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PendingPage:
    """Contacts waiting for a person's decision, the one whose recording deadline comes first at the top."""
    require_own_force(principal, force, "decisions")
    async with reading(request, principal) as route:
        rows = await repository.list_pending(route.session, force=principal.force, limit=limit)
        # A mixed contact is pending for what is left, with the crimes recorded at first contact already there.
        recorded = await repository.crime_references_of(route.session, [r.contact_id for r in rows])
        route.touches("decision", *(r.contact_id for r in rows))
    return PendingPage(
        items=[
            DecisionRead.model_validate(dict(r._mapping) | {"crime_references": recorded.get(r.contact_id, [])})
            for r in rows
        ]
    )


@router.post(
    "/contacts/{contact_id}/decision",
    response_model=DecisionRead,
    tags=["decisions"],
    summary="Decide a pending contact",
)
async def post_decision(
    request: Request, contact_id: UUID, body: DecisionCreate, principal: Annotated[Principal, CHANGERS]
) -> DecisionRead:
    """Resolves a pending contact: record (the rules count the offences), CRI, non-crime or N100."""
    async with writing(request, principal) as route:
        result = await resolve_pending(
            route.uow,
            contact_id=contact_id,
            by=principal.actor(),
            resolution=Resolution(
                outcome=body.outcome, rationale=body.rationale, offences=body.offences,
                credible_evidence=body.credible_evidence, closing_category=body.closing_category,
            ),
            policy=policy_of(request),
        )  # fmt: skip
        route.accepted(result)
        route.touches("decision", contact_id)
    return await get_decision(request, contact_id, principal)


@router.post(
    "/crimes/{crime_reference}/reclassification",
    response_model=CrimeDetail,
    tags=["crimes"],
    summary="Reclassify a crime",
)
async def post_reclassification(
    request: Request, crime_reference: CRN, body: ReclassificationCreate, principal: Annotated[Principal, CHANGERS]
) -> CrimeDetail:
    """Changes a recorded crime's class. A move to a less serious class without new information is audited."""
    async with writing(request, principal) as route:
        refusal = await lifecycle.reclassify(
            route.uow, crime_reference=crime_reference, by=principal.actor(), new_class=body.new_class,
            reason=body.reason, new_information=body.new_information,
            new_information_detail=body.new_information_detail, policy=policy_of(request),
        )  # fmt: skip
        route.accepted(refusal)
        route.touches("crime", crime_reference)
    return await get_crime(request, crime_reference, principal)


@router.post(
    "/crimes/{crime_reference}/cancellation-requests",
    status_code=201,
    response_model=CancellationRequestRead,
    tags=["cancellations"],
    summary="Ask to cancel or transfer a crime",
)
async def post_cancellation_request(
    request: Request, crime_reference: CRN, body: CancellationRequestCreate, principal: Annotated[Principal, CHANGERS]
) -> CancellationRequestRead:
    """Asks for a crime to be removed under C1–C4, with what the code must carry; an authoriser decides."""
    grounds = CancellationGrounds(
        code=body.code, explanation=body.explanation, receiving_force=body.receiving_force, avi=body.avi,
        duplicate_of=body.duplicate_of, error=body.error,
    )  # fmt: skip
    async with writing(request, principal) as route:
        result = await lifecycle.request_cancellation(
            route.uow, crime_reference=crime_reference, by=principal.actor(), grounds=grounds,
            victim_informed=body.victim_informed, victim_informed_at=body.victim_informed_at,
        )  # fmt: skip
        created = await repository.get_cancellation_request(route.session, route.accepted(result))
        assert created is not None
        route.touches("crime", crime_reference)
    return CancellationRequestRead.model_validate(created._mapping)


@router.get(
    "/cancellation-requests/{request_id}",
    response_model=CancellationRequestRead,
    tags=["cancellations"],
    summary="Read a cancellation request",
)
async def get_cancellation_request(
    request: Request, request_id: UUID, principal: Annotated[Principal, READERS]
) -> CancellationRequestRead:
    """A cancellation request with its grounds and decision."""
    async with reading(request, principal) as route:
        found = await repository.get_cancellation_request(route.session, request_id)
        row = route.own(found, f"No cancellation request {request_id}.")
        route.touches("cancellation_request", request_id)
    return CancellationRequestRead.model_validate(row._mapping)


async def _decide_request(
    request: Request, request_id: UUID, body: CancellationDecisionCreate, principal: Principal, *, approve: bool
) -> CancellationRequestRead:
    async with writing(request, principal) as route:
        result = await lifecycle.decide_cancellation(
            route.uow, request_id=request_id, by=principal.actor(), approve=approve, note=body.note,
            policy=policy_of(request),
        )  # fmt: skip
        route.accepted(result)
        decided = await repository.get_cancellation_request(route.session, request_id)
        assert decided is not None
        # The decision changes (or keeps) the crime: its own log names who decided.
        route.touches("cancellation_request", request_id)
        route.touches("crime", decided.crime_reference)
    return CancellationRequestRead.model_validate(decided._mapping)


@router.post(
    "/cancellation-requests/{request_id}/approval",
    response_model=CancellationRequestRead,
    tags=["cancellations"],
    summary="Approve a cancellation request",
)
async def approve(
    request: Request, request_id: UUID, body: CancellationDecisionCreate, principal: Annotated[Principal, AUTHORISERS]
) -> CancellationRequestRead:
    """Approves: the crime is cancelled (or transferred). The authoriser must differ from the requester and hold the
    role the force's authority matrix requires (FCR for rape; DDM or FCR for other sexual offences, violence and
    robbery; a supervisor or above otherwise)."""
    return await _decide_request(request, request_id, body, principal, approve=True)


@router.post(
    "/cancellation-requests/{request_id}/rejection",
    response_model=CancellationRequestRead,
    tags=["cancellations"],
    summary="Reject a cancellation request",
)
async def reject(
    request: Request, request_id: UUID, body: CancellationDecisionCreate, principal: Annotated[Principal, AUTHORISERS]
) -> CancellationRequestRead:
    """Rejects: the crime stays recorded."""
    return await _decide_request(request, request_id, body, principal, approve=False)


@router.post(
    "/crimes/{crime_reference}/victim-notification",
    status_code=201,
    response_model=CrimeDetail,
    tags=["cancellations"],
    summary="Record that the victim was told",
)
async def post_victim_notification(
    request: Request, crime_reference: CRN, body: VictimNotificationCreate, principal: Annotated[Principal, CHANGERS]
) -> CrimeDetail:
    """Records that, when and how the victim was told of the cancellation or transfer of their crime."""
    async with writing(request, principal) as route:
        refusal = await lifecycle.notify_victim(
            route.uow, crime_reference=crime_reference, by=principal.actor(), notified_at=body.notified_at,
            method=body.method,
        )  # fmt: skip
        route.accepted(refusal)
        route.touches("crime", crime_reference)
    return await get_crime(request, crime_reference, principal)
