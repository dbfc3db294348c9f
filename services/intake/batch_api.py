"""`POST /v1/contacts:batch`: up to 1,000 contacts in one request, each with its own Idempotency-Key, stored as
`POST /v1/contacts` stores them (one transaction for the lot, through the same group commit), each answered on its
own: a bulk feed (a force's backlog, a replay) without a round trip per contact."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from schemas.contacts import ContactCreate
from services.intake import api, service
from services.intake.service import Accepted
from services.runtime.auth import Principal
from services.runtime.problems import PROBLEM_RESPONSES, FieldError, Problem, ProblemError, field_name

router = APIRouter(prefix="/v1", tags=["contacts"], responses=PROBLEM_RESPONSES)

MAX_BATCH = 1000


class BatchItem(BaseModel):
    """One contact of a batch and the Idempotency-Key that makes it safe to send again."""

    model_config = {"extra": "forbid"}

    idempotency_key: str = Field(
        min_length=1,
        max_length=255,
        description="As the `Idempotency-Key` header of `POST /v1/contacts`: unique per contact of the calling "
        "system; a batch sent again (whole or in part) with the same keys stores nothing twice.",
    )
    contact: dict[str, Any] = Field(description="A contact, as the body of `POST /v1/contacts`.")


class ContactBatch(BaseModel):
    """Up to 1,000 contacts."""

    model_config = {"extra": "forbid"}

    contacts: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class ItemResult(BaseModel):
    """What became of one contact of the batch: `status` is the code `POST /v1/contacts` would have answered."""

    index: int = Field(description="Its place in the batch, from 0.")
    status: int = Field(description="201 stored (or stored before, with this key); 4xx: why not, in `title`.")
    contact_id: UUID | None = None
    links: api.ContactLinks | None = None
    title: str | None = None
    detail: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="Each offending field and why; never the value sent (a narrative stays out)."
    )


class BatchResults(BaseModel):
    """One result per contact, in the batch's order."""

    stored: int = Field(description="Contacts that are durable now (201), new or stored before with their key.")
    failed: int
    results: list[ItemResult]


def _refused(index: int, status: int, title: str, detail: str, errors: list[FieldError] | None = None) -> ItemResult:
    return ItemResult(index=index, status=status, title=title, detail=detail, errors=errors)


def _parse(index: int, item: BatchItem, principal: Principal, request: Request) -> ContactCreate | ItemResult:
    """The item's contact, or why it cannot be taken: the checks `POST /v1/contacts` makes, answered per item."""
    where = f"body.contacts.{index}"
    if not item.idempotency_key.strip() or not item.idempotency_key.isprintable():
        return _refused(index, 400, "Idempotency-Key not valid", "The key must be printable and not blank.")
    try:
        contact = ContactCreate.model_validate(item.contact)
    except ValidationError as exc:
        # The places and messages only: pydantic's input (a narrative, a name) never goes back.
        errors = [
            FieldError(field=f"{where}.contact.{field_name(e['loc'])}", message=e["msg"])
            for e in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
        return _refused(index, 422, "Contact is not valid", f"{len(errors)} field(s) not valid.", errors)
    problems = api.problems_of(request, contact)
    if problems:
        errors = [FieldError(field=f"{where}.contact.{loc}", message=msg) for loc, msg in problems]
        return _refused(index, 422, "Contact is not valid", f"{len(errors)} field(s) not valid.", errors)
    return contact


def _result(index: int, receipt: service.Receipt, contact: ContactCreate) -> ItemResult | dict[str, Any]:
    match receipt.outcome:
        case Accepted.CREATED | Accepted.REPLAYED:
            assert receipt.contact_id is not None
            # Written out (an ItemResult's fields): one for every contact stored.
            cid = receipt.contact_id
            return {"index": index, "status": 201, "contact_id": str(cid), "links": api.links_of(cid)}
        case Accepted.KEY_IN_FLIGHT:
            return _refused(index, 409, "Request in flight", "A contact with this Idempotency-Key is being handled.")
        case Accepted.KEY_REUSED:
            return _refused(index, 422, "Idempotency-Key reused", "This key was already used with another contact.")
        case Accepted.DUPLICATE_SOURCE:
            result = _refused(
                index,
                409,
                "Contact already submitted",
                f"Source reference {contact.source.system}/{contact.source.reference} already has a contact.",
            )
            result.contact_id = receipt.contact_id
            return result
    raise AssertionError(receipt.outcome)


@router.post(
    "/contacts:batch",
    response_model=BatchResults,
    response_model_exclude_none=True,
    summary="Submit up to 1,000 contacts (idempotent per contact)",
    responses={403: {"model": Problem, "description": "Not a call handler, or a contact of another force."}},
)
async def post_contacts(
    request: Request, batch: ContactBatch, principal: Annotated[Principal, api.POSTERS]
) -> JSONResponse:
    """Stores every acceptable contact of the batch durably, with its `contact.received` event, and answers
    200 with one result per contact: 201 for each stored (now, or before with the same key), the 4xx
    `POST /v1/contacts` would have given for each refused. Refusing one contact never refuses another. A body
    that is not a batch (no `contacts`, none, more than 1,000), or a contact of another force than the credential's,
    refuses the whole batch as problem+json, and nothing of it is stored."""
    others = [
        i for i, item in enumerate(batch.contacts) if item.contact.get("force", principal.force) != principal.force
    ]
    if others:
        # A credential of one force submitting for another is refused whole, as on `POST /v1/contacts`: that is
        # who is asking, not what a contact says.
        raise ProblemError(
            403,
            "Forbidden",
            f"A {principal.force} credential may only submit contacts for {principal.force} "
            f"(contacts {', '.join(map(str, others[:20]))}{' and more' if len(others) > 20 else ''} are not).",
        )
    results: list[ItemResult | dict[str, Any] | None] = [None] * len(batch.contacts)
    taken: list[tuple[int, ContactCreate, service.Submission]] = []
    for index, item in enumerate(batch.contacts):
        parsed = _parse(index, item, principal, request)
        if isinstance(parsed, ItemResult):
            results[index] = parsed
            continue
        submission = service.submission(
            contact=parsed, principal=principal, idempotency_key=item.idempotency_key, response_for=api.accepted
        )
        taken.append((index, parsed, submission))
    if taken:
        receipts = await request.app.state.batch_commit([sub for _, _, sub in taken])
        for (index, contact, _), receipt in zip(taken, receipts, strict=True):
            results[index] = _result(index, receipt, contact)
    done = [
        r if isinstance(r, dict) else r.model_dump(mode="json", exclude_none=True) for r in results if r is not None
    ]
    stored = sum(r["status"] == 201 for r in done)
    # A response of our own: FastAPI would validate a thousand results against the model once more.
    return JSONResponse({"stored": stored, "failed": len(done) - stored, "results": done})
