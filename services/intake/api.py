"""Intake's HTTP routes: parse, call the service, map the outcome. No SQL, no decisions."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from schemas.contacts import ContactCreate
from schemas.events import Outcome, Role
from services.intake import repository, service
from services.intake.service import Accepted
from services.runtime import clock
from services.runtime.access_log import Access, entries
from services.runtime.auth import Principal, require_force, require_roles
from services.runtime.group_commit import GroupCommit
from services.runtime.http import runtime_of
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, Problem, ProblemError
from services.runtime.service_runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["contacts"], responses=PROBLEM_RESPONSES)

POSTERS = require_roles(Role.CALL_HANDLER)
READERS = require_roles(Role.CALL_HANDLER, Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR, Role.AUDITOR)


class ContactLinks(BaseModel):
    """Where to follow a contact."""

    self: str
    decision: str = Field(description="The recorder's decision (recorder service, same path layout).")


class ContactAccepted(BaseModel):
    """The answer to a contact accepted (durable: stored, and its event committed to the outbox); with
    `Prefer: wait=N` and a decision made within N seconds, the decision too."""

    contact_id: UUID
    status: str = Field(
        description="`received`: stored and its event committed for publication; `decided`: and the recorder's "
        "decision is in (only with `Prefer: wait`, see `Preference-Applied`)."
    )
    links: ContactLinks
    outcome: Outcome | None = Field(default=None, description="The recorder's decision (`decided` only).")
    crime_references: list[str] | None = Field(default=None, description="The crimes recorded (`decided` only).")
    decided_at: datetime | None = Field(default=None, description="When it was decided (`decided` only).")


class ContactRead(BaseModel):
    """A stored contact and how far it has gone: received → published → decided."""

    contact_id: UUID
    force: str
    status: str = Field(description="`received`, `published` (on the contacts topic) or `decided` (by the recorder).")
    received_at: datetime
    outcome: Outcome | None = Field(description="The recorder's decision, once made.")
    crime_references: list[str]
    decided_at: datetime | None
    contact: ContactCreate
    links: ContactLinks


def links_of(contact_id: UUID) -> dict[str, str]:
    return {"self": f"/v1/contacts/{contact_id}", "decision": f"/v1/contacts/{contact_id}/decision"}


def accepted(contact_id: UUID) -> dict[str, Any]:
    """The body of a 201 (a ContactAccepted, written out: it is built for every contact, a batch's too)."""
    return {"contact_id": str(contact_id), "status": "received", "links": links_of(contact_id)}


def problems_of(request: Request, contact: ContactCreate) -> list[tuple[str, str]]:
    """What the schema cannot check of a contact (the catalogue, the clock), as the app is configured."""
    return service.contact_problems(
        contact,
        catalogue=request.app.state.catalogue,
        now=clock.now(),
        skew=timedelta(seconds=request.app.state.settings.clock_skew_seconds),
    )


@router.post(
    "/contacts",
    status_code=201,
    response_model=ContactAccepted,
    summary="Submit a contact (idempotent)",
    responses={
        201: {
            "headers": {
                "Preference-Applied": {
                    "description": "`wait=N` when the answer carries the decision (`Prefer: wait=N`).",
                    "schema": {"type": "string"},
                }
            }
        },
        400: {"model": Problem, "description": "No usable `Idempotency-Key` header."},
        409: {
            "model": Problem,
            "description": "The same key is still being handled, or the source reference already has a contact.",
        },
    },
)
async def post_contact(
    request: Request,
    contact: ContactCreate,
    principal: Annotated[Principal, POSTERS],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Unique per request of the calling system (at most 255 characters). "
            "Send the same key when retrying: the first response comes back and nothing new is stored.",
        ),
    ] = None,
    prefer: Annotated[
        list[str] | None,
        Header(
            description="`wait=N` (RFC 7240): hold the answer up to N seconds (at most 30) for the recorder's "
            "decision; if it comes, the answer carries it, status `decided`, and `Preference-Applied: wait=N`."
        ),
    ] = None,
) -> JSONResponse:
    """Records a victim contact durably and publishes `contact.received`; a 2xx means it is stored."""
    if idempotency_key is None or not idempotency_key.strip():
        raise ProblemError(400, "Idempotency-Key required", "Send an `Idempotency-Key` header, unique per request.")
    if len(idempotency_key) > 255 or not idempotency_key.isprintable():
        raise ProblemError(400, "Idempotency-Key not valid", "The key must be printable and at most 255 characters.")
    if contact.force != principal.force:
        raise ProblemError(
            403,
            "Forbidden",
            f"A {principal.force} credential may only submit contacts for {principal.force}.",
        )
    problems = problems_of(request, contact)
    if problems:
        errors = [FieldError(field=f"body.{loc}", message=msg) for loc, msg in problems]
        raise ProblemError(
            422, "Request is not valid", "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        )
    receipt = await request.app.state.contact_commits.submit(
        service.submission(contact=contact, principal=principal, idempotency_key=idempotency_key, response_for=accepted)
    )
    answer = _answer(receipt, contact)
    wait = prefer_wait(prefer, ceiling=request.app.state.settings.prefer_wait_max_seconds)
    if wait is not None and receipt.contact_id is not None:
        return await _with_decision(request, answer, receipt.contact_id, wait)
    return answer


def prefer_wait(headers: list[str] | None, *, ceiling: int) -> int | None:
    """The `wait` preference of RFC 7240 (`Prefer: wait=N`, N whole seconds), capped at `ceiling`; None when
    absent or not understood (a preference a server does not understand is ignored, never an error)."""
    for header in headers or ():
        for preference in header.split(","):
            name, _, value = preference.split(";", 1)[0].partition("=")
            if name.strip().lower() == "wait":
                value = value.strip().strip('"')
                return min(int(value), ceiling) if value.isascii() and value.isdigit() else None
    return None


async def _with_decision(request: Request, answer: JSONResponse, contact_id: UUID, wait: int) -> JSONResponse:
    """The answer with the recorder's decision in it if intake has it within `wait` seconds (Preference-Applied),
    or the plain answer."""
    row = await request.app.state.decisions.decided(runtime_of(request), contact_id, within=float(wait))
    if row is None:
        return answer
    body = json.loads(bytes(answer.body)) | {
        "status": "decided",
        "outcome": row.outcome,
        "crime_references": list(row.crime_references),
        "decided_at": row.decided_at.isoformat(),
    }
    return JSONResponse(body, status_code=answer.status_code, headers={"Preference-Applied": f"wait={wait}"})


def _answer(receipt: service.Receipt, contact: ContactCreate) -> JSONResponse:
    """The HTTP answer to what became of a submission: the stored (or replayed) response, or why not."""
    match receipt.outcome:
        case Accepted.CREATED | Accepted.REPLAYED:
            return JSONResponse(receipt.response, status_code=receipt.status_code)
        case Accepted.KEY_IN_FLIGHT:
            raise ProblemError(409, "Request in flight", "A request with this Idempotency-Key is still being handled.")
        case Accepted.KEY_REUSED:
            raise ProblemError(
                422,
                "Idempotency-Key reused",
                "This Idempotency-Key was already used with a different body.",
                extra={"contact_id": str(receipt.contact_id)},
            )
        case Accepted.DUPLICATE_SOURCE:
            raise ProblemError(
                409,
                "Contact already submitted",
                f"Source reference {contact.source.system}/{contact.source.reference} already has contact "
                f"{receipt.contact_id}.",
                extra={"contact_id": str(receipt.contact_id), "links": links_of(receipt.contact_id)}
                if receipt.contact_id
                else None,
            )
    raise AssertionError(receipt.outcome)


def contact_commits(runtime: ServiceRuntime, *, max_batch: int) -> GroupCommit[service.Submission, service.Receipt]:
    """Stores the contacts POSTed at the same time in one transaction (group commit), each with its access-log
    entry; a request is answered once its contact is committed."""
    return GroupCommit(store_contacts(runtime), max_batch=max_batch)


def store_contacts(
    runtime: ServiceRuntime,
) -> Callable[[Sequence[service.Submission]], Awaitable[list[service.Receipt]]]:
    """Stores submissions in one transaction, each new contact with its access-log entry; what became of each."""

    async def commit(submissions: Sequence[service.Submission]) -> list[service.Receipt]:
        async with runtime.unit_of_work() as uow:
            receipts = await service.receive_contacts(uow, submissions)
            await runtime.access_log.write(
                uow.session,
                [
                    entry
                    for sub, receipt in zip(submissions, receipts, strict=True)
                    if receipt.outcome is Accepted.CREATED
                    for entry in entries(
                        sub.principal, Access.COLLECTION, subject_type="contact", subject_ids=[str(receipt.contact_id)]
                    )
                ],
            )
        return receipts

    return commit


def _read(row: Any) -> ContactRead:
    if row.outcome is not None:
        status = "decided"
    elif row.published_at is not None or row.outbox_purged:
        status = "published"
    else:
        status = "received"
    return ContactRead(
        contact_id=row.contact_id,
        force=row.force,
        status=status,
        received_at=row.received_at,
        outcome=row.outcome,
        crime_references=list(row.crime_references),
        decided_at=row.decided_at,
        contact=ContactCreate.model_validate(row.body),
        links=ContactLinks(**links_of(row.contact_id)),
    )


@router.get("/contacts/{contact_id}", response_model=ContactRead, summary="Read a contact and its status")
async def get_contact(request: Request, contact_id: UUID, principal: Annotated[Principal, READERS]) -> ContactRead:
    """A contact as received, with how far it has gone and the crime references once decided."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        row = await repository.get_contact(session, contact_id)
        if row is None:
            raise ProblemError(404, "Not found", f"No contact {contact_id}.")
        require_force(principal, row.force, f"No contact {contact_id}.")
        await runtime.access_log.record(
            session, principal, Access.CONSULTATION, subject_type="contact", subject_ids=[str(contact_id)]
        )
    return _read(row)


@router.get("/contacts", response_model=ContactRead, summary="Find a contact by the caller's own reference")
async def find_contact(
    request: Request,
    principal: Annotated[Principal, READERS],
    source_system: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[^\x00]+$")],
    source_reference: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[^\x00]+$")],
) -> ContactRead:
    """The contact your force holds for a call-handling system's incident reference."""
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        contact_id = await repository.find_by_source(
            session, force=principal.force, system=source_system, reference=source_reference
        )
        row = await repository.get_contact(session, contact_id) if contact_id else None
        if row is not None:
            await runtime.access_log.record(
                session, principal, Access.CONSULTATION, subject_type="contact", subject_ids=[str(row.contact_id)]
            )
    if row is None:
        raise ProblemError(404, "Not found", f"No contact for {source_system}/{source_reference} in {principal.force}.")
    return _read(row)


def document(schema: dict[str, Any]) -> None:
    """The Idempotency-Key is required and at most 255 characters; the route checks it itself (to answer 400, as
    the IETF draft says, rather than 422), so the document says what the check does."""
    for parameter in schema["paths"]["/v1/contacts"]["post"]["parameters"]:
        if parameter["name"] == "Idempotency-Key":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 255, "title": "Idempotency-Key"}
