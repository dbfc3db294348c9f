"""Schemathesis against the recorder's OpenAPI document, every check on (issue 22, Schema fuzzing): no server
error, no answer that breaks the document. Requests carry a GMP admin's key (every role check passes), so the
generated data reaches the routes themselves; random ids name nothing, which the document answers with 404."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.core.failures import Failure

from schemas.events import Role
from services.recorder.app import create_app
from services.recorder.settings import RecorderSettings
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

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@pytest.fixture(scope="module")
def recorder_url(engines: EngineSettings) -> Iterator[str]:
    yield from serve(create_app(RecorderSettings(engines=engines)), "recorder")


@pytest.fixture(scope="module")
def recorder_schema(recorder_url: str, keys: Keys) -> schemathesis.BaseSchema:
    return load(recorder_url, keys.mine[Role.ADMIN])


# Defects the checks find today, by test: each tolerated only as the failure described, and only while it shows.
KNOWN: dict[str, list[tuple[str, Callable[[Failure], bool]]]] = {}


@pytest.fixture
def known(request: pytest.FixtureRequest) -> Iterator[list[Defect]]:
    yield from known_defects(request, KNOWN)


schema = schemathesis.pytest.from_fixture("recorder_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # As in tests/intake/test_schemathesis.py: schemathesis 4.32 reads `item._nodeid`, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@HYPOTHESIS
def test_recorder(case: Any, known: list[Defect]) -> None:
    call_and_validate(case, known)
