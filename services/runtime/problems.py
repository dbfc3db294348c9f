"""Errors as RFC 9457 `application/problem+json`, naming each offending field and why."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One thing wrong with one field of a request."""

    field: str = Field(description="Where: `body.victims.0.ref`, `query.force`, `header.idempotency-key`.")
    message: str


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        type_: str = "about:blank",
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(type=type_, title=title, status=status, detail=detail, errors=errors)
        self.extra = extra or {}
        self.headers = headers


def problem_response(
    problem: Problem, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The HTTP response carrying a problem."""
    body = problem.model_dump(exclude_none=True) | (extra or {})
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def field_name(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`("body", "victims", 0, "ref")` as `body.victims.0.ref`."""
    return ".".join(str(part) for part in loc)


def _methods_for(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """The methods every route matching the request's path serves, looking inside included routers."""
    methods: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            methods |= _methods_for(inner.routes, scope)
        elif route.matches(scope)[0] is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods


def install_problem_handlers(app: FastAPI) -> None:
    """Makes every error the app can raise answer as problem+json."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        exc.problem.instance = exc.problem.instance or request.url.path
        return problem_response(exc.problem, exc.extra, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(field=field_name(e["loc"]), message=e["msg"]) for e in exc.errors()]
        problem = Problem(
            title="Request is not valid",
            status=422,
            detail="; ".join(f"{e.field}: {e.message}" for e in errors)[:2000],
            instance=request.url.path,
            errors=errors,
        )
        return problem_response(problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated", 403: "Forbidden"}
        headers = getattr(exc, "headers", None)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI could not decode the body (not UTF-8 JSON): an unreadable body, answered as every other one.
            return problem_response(
                Problem(
                    title="Request is not valid",
                    status=422,
                    detail="body: the body is not UTF-8 JSON.",
                    instance=request.url.path,
                    errors=[FieldError(field="body", message="the body is not UTF-8 JSON")],
                )
            )
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; a path served by several routes (GET and
            # POST /v1/contacts) allows all their methods.
            allowed = sorted(_methods_for(request.app.router.routes, request.scope))
            headers = {"Allow": ", ".join(allowed)}
        problem = Problem(
            title=titles.get(exc.status_code, "HTTP error"),
            status=exc.status_code,
            detail=str(exc.detail),
            instance=request.url.path,
        )
        return problem_response(problem, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            Problem(
                title="Internal error",
                status=500,
                detail="The request could not be completed; it was not stored.",
            )
        )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text}
    for status, text in {
        401: "No valid credential (send `Authorization: Bearer <key>`).",
        403: "The credential's role or force does not allow this.",
        404: "No such record (another force's records are answered the same way).",
        413: "The request body is too large.",
        415: "The request body is not JSON (send `Content-Type: application/json`).",
        422: "The request is not valid; `errors` names each field and why.",
    }.items()
}
"""OpenAPI entries for the errors every authenticated route can answer with (documented as problem+json)."""


def document_problems(schema: dict[str, Any]) -> None:
    """Moves every error response of an OpenAPI document to `application/problem+json` with the Problem schema."""
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
