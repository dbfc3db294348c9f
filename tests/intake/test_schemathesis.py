"""Schemathesis against intake's OpenAPI document, every check on (issue 3, Tests and measures).

Intake runs here as it runs in production: uvicorn, in a thread with its own event loop, on the session's engines.
Requests carry a call handler's key (GMP), and every POST a fresh Idempotency-Key and a source reference of its own.

Data that is valid by the schema can still be refused by rules the schema cannot express, and the document says so:
another force (403), a source reference already used (409), a timestamp in the future or a class that cannot be
recorded (422). `positive_data_acceptance` accepts those statuses; every other check runs as shipped, on every
operation.

Random data that is valid by the schema almost never gets past those rules (a random force code is not GMP), so it
would never reach the database. Positive POST cases are therefore brought inside the domain before they are sent
(`_within_the_domain`): our force, recordable classes, refs that resolve, timestamps in the recent past. Everything
else the generator chose (strings, lists, nulls, optional fields) is sent as generated.

Defects the checks find today are listed in KNOWN, each with the failure it shows as. A known failure is tolerated,
any other fails the test, and a known defect that no longer shows fails it as well: xfail(strict=True), but for
one failure rather than the whole operation. (A plain xfail mark cannot do this here: `from_fixture` runs each
operation as a subtest, and the test around the subtests always passes.) Two defects that the fuzzer would only
hit at random are pinned down by deterministic tests in test_validation.py instead, and kept out of the generated
data: NUL characters (`allow-x00 = false`) and timestamps beyond years 1..9999 in UTC (`_recent`).
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.openapi.checks import AllowHeaderMismatch, UndefinedStatusCode

from crimerec.embedded import free_port
from schemas.catalogue import OffenceCatalogue
from schemas.events import Role
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.runtime.settings import EngineSettings
from tests.conftest import Keys

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)

# Schema-valid data: 201, or a documented refusal by a rule the schema cannot express (403 another force, 404, 409
# source reference already used, 422 future timestamp / class that cannot be recorded). The rest are the defaults.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


@pytest.fixture(scope="module")
def intake_url(engines: EngineSettings) -> Iterator[str]:
    """A separate intake, served by uvicorn on a free port in a thread with its own event loop."""
    port = free_port()
    app = create_app(IntakeSettings(engines=engines))
    # HTTP and the outbox relay only: the session's intake follows the recorder's decisions, and a second member
    # joining and leaving the `intake.decisions` group would only stall it for a rebalance.
    app.state.runtime.subscriptions = ()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="intake-uvicorn", daemon=True)
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
            raise RuntimeError("intake did not come up under uvicorn")
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def intake_schema(intake_url: str, keys: Keys) -> schemathesis.BaseSchema:
    """Intake's document as it serves it, with a GMP call handler's key on every request."""
    config = SchemathesisConfig.from_dict(
        {
            # The key as the document's bearer scheme (not a fixed header), so the checks that drop it
            # (missing_required_header, ignored_auth) really send requests without it.
            "auth": {"openapi": {"apiKey": {"bearer": keys.mine[Role.CALL_HANDLER]}}},
            "request-timeout": 10,
            "generation": {"allow-x00": False},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        }
    )
    return schemathesis.openapi.from_url(f"{intake_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("intake_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 (pytest/lazy.py) reads and rewrites `item._nodeid`, which pytest 9.2 no longer has (it keeps
    # the id in `_id`); give it the attribute so from_fixture works. Remove once schemathesis follows pytest.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


CATALOGUE = OffenceCatalogue.default()
RECENT = datetime(2000, 1, 1, tzinfo=UTC)


def _a_new_request(case: Any) -> None:
    """A fresh Idempotency-Key, and (where that keeps the case as generated) a source reference of its own."""
    headers = dict(case.headers or {})
    named = [name for name in headers if name.lower() == "idempotency-key"]
    if named and isinstance(headers[named[0]], str) and headers[named[0]].strip():
        # Keep the generated case's shape (a key or none, as schemathesis chose), but make a given key unique, so
        # two generated bodies never collide on one key.
        headers[named[0]] = f"st-{uuid.uuid4().hex}"
    for name in [name for name in headers if name.lower() == "prefer"]:
        # A generated `wait=N` would hold the case up to N seconds for a decision: a second is enough to exercise it.
        if isinstance(headers[name], str) and "wait" in headers[name].lower():
            headers[name] = "wait=1"
    case.headers = headers
    # Generated cases may share nested objects with each other: change a copy.
    case.body = copy.deepcopy(case.body)
    source = case.body.get("source") if isinstance(case.body, dict) else None
    if isinstance(source, dict) and isinstance(source.get("reference"), str) and 1 <= len(source["reference"]) <= 88:
        source["reference"] = f"{uuid.uuid4().hex[:12]}{source['reference']}"


def _recent(value: Any) -> Any:
    """A generated timestamp if it is in the recent past, else one an hour ago."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None and RECENT <= moment <= datetime.now(UTC):
            return value
    except (TypeError, ValueError, OverflowError):
        pass
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def _within_the_domain(case: Any) -> None:
    """Makes a positive POST case acceptable to the rules the schema cannot express (see the module docstring)."""
    body = case.body
    if not isinstance(body, dict):
        return
    body["force"] = "GMP"
    location = body.get("location")
    if isinstance(location, dict) and location.get("force_area") is not None:
        location["force_area"] = "GMP"
    victims = body.get("victims") or []
    for index, victim in enumerate(victims):
        victim["ref"] = f"V{index}"
    for offence in body.get("offences") or []:
        offence["victim_ref"] = "V0" if victims and offence.get("victim_ref") is not None else None
        if CATALOGUE.recordable(offence["ho_class"]) is not None:
            offence["ho_class"] = "8N"
    for name in ("received_at", "occurred_from", "occurred_to"):
        if body.get(name) is not None:
            body[name] = _recent(body[name])
    if body.get("occurred_from") and body.get("occurred_to"):
        body["occurred_from"], body["occurred_to"] = sorted(
            [body["occurred_from"], body["occurred_to"]], key=datetime.fromisoformat
        )


@dataclass
class Defect:
    """A defect a check finds today: what it is, where, how to fix it, and how to recognise its failure."""

    what: str
    matches: Callable[[Failure], bool]
    seen: bool = False


def _undocumented(status: int) -> Callable[[Failure], bool]:
    return lambda failure: isinstance(failure, UndefinedStatusCode) and failure.status_code == status


def _allow_header_lacks(method: str) -> Callable[[Failure], bool]:
    return lambda failure: isinstance(failure, AllowHeaderMismatch) and failure.missing_methods == [method]


# The fields pydantic's lax mode coerces into (a number into a timestamp or date, "yes" or 1 into a boolean).
COERCED = re.compile(r"(received_at|occurred_from|occurred_to|identified|confirmed|date_of_birth)\b.*Incorrect type")

ALLOW_HEADER = (
    "405 on /v1/contacts says `Allow: POST` though the resource also serves GET (see test_a_405_lists_every_method)"
)

# Defects schemathesis finds today, by test. Each is tolerated only as the failure described; any other failure
# fails the test, and a defect that no longer shows fails it too (strict, like xfail(strict=True)).
KNOWN: dict[str, list[tuple[str, Callable[[Failure], bool]]]] = {}


@pytest.fixture
def known(request: pytest.FixtureRequest) -> Iterator[list[Defect]]:
    """The known defects of this test; after the run, each must have shown itself."""
    defects = [Defect(what, matches) for what, matches in KNOWN.get(request.node.originalname, [])]
    yield defects
    gone = [d.what for d in defects if not d.seen]
    assert not gone, f"known defect(s) no longer found - fixed? Then take them out of KNOWN: {gone}"
    for defect in defects:
        warnings.warn(f"{request.node.originalname}: known defect: {defect.what}", KnownDefect, stacklevel=1)


class KnownDefect(UserWarning):
    """A defect schemathesis found and this module tolerates, listed in KNOWN."""


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


@schema.include(path="/v1/contacts", method="POST").parametrize()
@HYPOTHESIS
def test_post_contacts(case: Any, known: list[Defect]) -> None:
    _a_new_request(case)
    if case.meta is not None and case.meta.generation.mode.name == "POSITIVE":
        _within_the_domain(case)
    call_and_validate(case, known)


def _fresh_batch_keys(case: Any) -> None:
    """Each generated batch item's Idempotency-Key made unique (where it is a usable one), as for single POSTs."""
    case.body = copy.deepcopy(case.body)
    items = case.body.get("contacts") if isinstance(case.body, dict) else None
    for entry in items if isinstance(items, list) else []:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("idempotency_key"), str)
            and entry["idempotency_key"].strip()
        ):
            entry["idempotency_key"] = f"st-{uuid.uuid4().hex}"


@schema.include(path="/v1/contacts:batch", method="POST").parametrize()
@HYPOTHESIS
def test_post_contacts_batch(case: Any, known: list[Defect]) -> None:
    _fresh_batch_keys(case)
    call_and_validate(case, known)


@schema.include(path="/v1/contacts/{contact_id}", method="GET").parametrize()
@HYPOTHESIS
def test_get_contact(case: Any, known: list[Defect]) -> None:
    call_and_validate(case, known)


@schema.include(path="/v1/contacts", method="GET").parametrize()
@HYPOTHESIS
def test_find_contact(case: Any, known: list[Defect]) -> None:
    call_and_validate(case, known)


@schema.include(path_regex="^/(healthz|readyz)$").parametrize()
@HYPOTHESIS
def test_health(case: Any, known: list[Defect]) -> None:
    call_and_validate(case, known)


@schema.include(path="/metrics").parametrize()
@HYPOTHESIS
def test_metrics(case: Any, known: list[Defect]) -> None:
    call_and_validate(case, known)


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE"])
def test_a_405_lists_every_method(intake_url: str, keys: Keys, method: str) -> None:
    response = httpx.request(method, f"{intake_url}/v1/contacts", headers=keys.auth(Role.CALL_HANDLER))
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST"}


def test_the_metrics_route_answers_an_admin_with_prometheus_text(intake_url: str, keys: Keys) -> None:
    response = httpx.get(f"{intake_url}/metrics", headers=keys.auth(Role.ADMIN))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_a_chunked_body_over_the_limit_is_refused_over_http(intake_url: str, keys: Keys) -> None:
    # The same limit as in test_validation.py, here through a real HTTP server and Transfer-Encoding: chunked.
    payload = b'{"narrative": "' + b"x" * (300 * 1024) + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 8 * 1024):
            yield payload[start : start + 8 * 1024]

    headers = keys.auth(Role.CALL_HANDLER) | {"Idempotency-Key": f"st-{uuid.uuid4().hex}"}
    headers["Content-Type"] = "application/json"
    response = httpx.post(f"{intake_url}/v1/contacts", content=chunks(), headers=headers, timeout=10)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
