"""Fixtures of the recorder's HTTP tests: a second person in each role, so that requester and authoriser differ."""

from __future__ import annotations

import pytest

from crimerec import stack
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import FORCE


@pytest.fixture(scope="session")
async def colleagues(engines: EngineSettings) -> dict[Role, dict[str, str]]:
    """A second GMP key per changing role (another officer, supervisor, DDM, FCR), as Authorization headers."""
    roles = [Role.OFFICER, Role.SUPERVISOR, Role.DDM, Role.FCR]
    issued = await stack.issue_keys(engines, force=FORCE, roles=roles, label="recorder-tests-colleague")
    return {Role(role): {"Authorization": f"Bearer {key}"} for role, key in issued.items()}
