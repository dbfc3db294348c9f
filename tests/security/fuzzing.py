"""Schemathesis against a service's own OpenAPI document, served as in production (uvicorn, loopback, a thread with
its own event loop), the style of tests/intake/test_schemathesis.py."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup, ServerError
from schemathesis.openapi.checks import UndefinedStatusCode

from crimerec.embedded import free_port

# Derandomized: the same examples every run, so a known defect shows every run (or is gone) and a run takes about
# as long as the last one.
HYPOTHESIS = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)

# Schema-valid data can still name an object that does not exist (404), one of another state (409), or break a rule
# the schema cannot express (403 the authority matrix, 422 a downgrade without new information); the rest are the
# defaults.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


def serve(app: Any, name: str) -> Iterator[str]:
    """Serves an app on a free loopback port until the generator is closed; yields its URL."""
    port = free_port()
    # HTTP and the outbox relay only: a second member joining the session's consumer groups would stall them.
    app.state.runtime.subscriptions = ()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{name}-uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"{name} did not come up under uvicorn")
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def load(url: str, key: str) -> schemathesis.BaseSchema:
    """A service's document as it serves it, with `key` as the bearer credential on every request."""
    config = SchemathesisConfig.from_dict(
        {
            # The key as the document's bearer scheme (not a fixed header), so the checks that drop it
            # (missing_required_header, ignored_auth) really send requests without it.
            "auth": {"openapi": {"apiKey": {"bearer": key}}},
            "request-timeout": 10,
            "generation": {"allow-x00": False},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        }
    )
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)


@dataclass
class Defect:
    """A defect a check finds today: what it is, where to fix it, and how to recognise its failure."""

    what: str
    matches: Callable[[Failure], bool]
    seen: bool = False


NOT_UTF8 = (
    "a body that is not UTF-8 is answered 400 'HTTP error: There was an error parsing the body' (FastAPI's "
    "HTTPException), which no operation documents, before the credential is even looked at; fix: "
    "services/runtime/problems.py install_problem_handlers._http: answer that 400 as every other unreadable body, "
    "422 'Request is not valid' with errors=[{field: 'body', message: 'not UTF-8 JSON'}]"
)


def accepted_wrong_query(operation: str) -> Callable[[Failure], bool]:
    """Recognises an operation that answered 2xx to a query the document says is invalid."""
    return lambda failure: isinstance(failure, AcceptedNegativeData) and failure.operation == operation


def server_error_on(*operations: str) -> Callable[[Failure], bool]:
    """Recognises a 500 from one of these operations (the server error, and the undocumented status it is)."""

    def matches(failure: Failure) -> bool:
        five_hundred = isinstance(failure, ServerError) or (
            isinstance(failure, UndefinedStatusCode) and failure.status_code == 500
        )
        return five_hundred and failure.operation in operations

    return matches


def undocumented(status: int) -> Callable[[Failure], bool]:
    """Recognises an answer with a status the document does not give for the operation."""
    return lambda failure: isinstance(failure, UndefinedStatusCode) and failure.status_code == status


class KnownDefect(UserWarning):
    """A defect schemathesis found and a module tolerates, listed in its KNOWN."""


def known_defects(
    request: pytest.FixtureRequest, known: dict[str, list[tuple[str, Callable[[Failure], bool]]]]
) -> Iterator[list[Defect]]:
    """The known defects of a test; after the run each must have shown itself (strict, like xfail(strict=True),
    but for one failure rather than the whole operation: `from_fixture` runs operations as subtests)."""
    defects = [Defect(what, matches) for what, matches in known.get(request.node.originalname, [])]
    yield defects
    gone = [d.what for d in defects if not d.seen]
    assert not gone, f"known defect(s) no longer found - fixed? Then take them out of KNOWN: {gone}"
    for defect in defects:
        warnings.warn(f"{request.node.originalname}: known defect: {defect.what}", KnownDefect, stacklevel=1)


def call_and_validate(case: Any, known: list[Defect]) -> None:
    """`case.call_and_validate()` with every check, failing on anything but the known defects."""
    try:
        case.call_and_validate()
    except FailureGroup as group:
        unknown = [f for f in group.exceptions if not any(d.matches(f) for d in known)]
        for defect in known:
            defect.seen = defect.seen or any(defect.matches(f) for f in group.exceptions)
        if unknown:
            raise
