"""Schemathesis against the auditor's OpenAPI document, every check on (issue 22, Schema fuzzing): no server
error, no answer that breaks the document. Requests carry a GMP admin's key (every role check passes).

The alert stream is left out: it is a server-sent event stream that never ends, so every call would end in the
client's timeout; its refusals are in tests/security/test_access_matrix.py and its data in
tests/auditor/test_alert_stream.py. Webhook subscriptions are only ever created to loopback addresses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.core.failures import Failure

from schemas.events import Role
from services.auditor.app import create_app
from services.auditor.settings import AuditorSettings
from services.runtime.settings import EngineSettings
from tests.conftest import Keys
from tests.security.fuzzing import (
    HYPOTHESIS,
    Defect,
    call_and_validate,
    known_defects,
    load,
    serve,
)
from tests.support import LOOPBACK_WEBHOOKS

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@pytest.fixture(scope="module")
def auditor_url(engines: EngineSettings) -> Iterator[str]:
    yield from serve(create_app(AuditorSettings(engines=engines, **LOOPBACK_WEBHOOKS)), "auditor")


@pytest.fixture(scope="module")
def auditor_schema(auditor_url: str, keys: Keys) -> schemathesis.BaseSchema:
    return load(auditor_url, keys.mine[Role.ADMIN])


# Defects the checks find today, by test: each tolerated only as the failure described, and only while it shows.
KNOWN: dict[str, list[tuple[str, Callable[[Failure], bool]]]] = {}


@pytest.fixture
def known(request: pytest.FixtureRequest) -> Iterator[list[Defect]]:
    yield from known_defects(request, KNOWN)


schema = schemathesis.pytest.from_fixture("auditor_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # As in tests/intake/test_schemathesis.py: schemathesis 4.32 reads `item._nodeid`, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _loopback_only(case: Any) -> None:
    """A generated webhook goes to a loopback port nobody listens on: fuzzing sends nothing off the machine."""
    if isinstance(case.body, dict) and isinstance(case.body.get("callback_url"), str):
        case.body = dict(case.body) | {"callback_url": "http://127.0.0.1:9/fuzzed"}


@schema.exclude(path="/v1/alerts/stream").parametrize()
@HYPOTHESIS
def test_auditor(case: Any, known: list[Defect]) -> None:
    if case.meta is not None and case.meta.generation.mode.name == "POSITIVE":
        _loopback_only(case)
    call_and_validate(case, known)
