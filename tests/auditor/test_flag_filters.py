"""The flag listing's filters that look inside a flag's evidence (offence group, officer or team) and its total,
on flags stored in the auditor's real database for a force no other test uses (CAM).

The offence-group filter must agree with what the console shows as a flag's groups, so the two are compared on
every group."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crimerec import stack
from schemas.catalogue import OffenceCatalogue
from schemas.events import Role
from services.auditor import repository
from services.console.presenters import offence_groups
from services.runtime.settings import EngineSettings
from tests.conftest import Services

FORCE = "CAM"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# (name, rule, audit category, evidence): the shapes the detectors write.
FLAGS: list[tuple[str, str, str | None, dict[str, Any]]] = [
    ("robbery", "LATE_RECORD", "robbery", {"ho_class": "34B", "recorded_by": {"principal": "off1", "roles": []}}),
    ("violence+theft", "MISSING_RECORD", None, {"reported_classes": ["8N", "28E"]}),
    ("rape cancelled", "CANCELLATION_WRONG_AUTHORITY", "rape",
     {"requested_by": {"principal": "off1"}, "authorised_by": {"principal": "ddm1"}}),
    ("downgrade", "DOWNGRADE", "violence", {"previous_class": "5D", "new_class": "105A", "decided_by": "off2"}),
    ("other", "UNJUSTIFIED_NON_CRIME", "other", {"offences": ["58A"], "decided_by": {"principal": "off3"}}),
    ("class wins", "UNDER_COUNT", "violence", {"ho_class": "34B"}),
    ("nothing named", "RAPE_WITHOUT_N100", "other", {"note": "off1"}),
]  # fmt: skip


@pytest.fixture(scope="module")
async def cam(engines: EngineSettings, db: AsyncEngine) -> tuple[dict[str, str], dict[str, int]]:
    """An FCR key for CAM and the CAM flags stored, by name (ids in the order above)."""
    keys = await stack.issue_keys(engines, force=FORCE, roles=[Role.FCR], label="flag-filter-tests")
    rows = [
        {"rule": rule, "severity": "medium", "force": FORCE, "contact_id": uuid.uuid4(), "crime_reference": None,
         "subject": f"{name}-{uuid.uuid4().hex}", "audit_category": category, "explanation": name,
         "evidence": evidence, "raised_at": NOW + timedelta(minutes=i), "status": "open", "resolution": None,
         "cured_by": None, "updated_at": NOW + timedelta(minutes=i)}
        for i, (name, rule, category, evidence) in enumerate(FLAGS)
    ]  # fmt: skip
    async with AsyncSession(db) as session, session.begin():
        stored = await repository.insert_flags(session, rows)
    ids = {name: stored[(rule, row["subject"])] for (name, rule, _, _), row in zip(FLAGS, rows, strict=True)}
    return {"Authorization": f"Bearer {keys['fcr']}"}, ids


async def listed(services: Services, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await services.auditor.get("/v1/flags", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def names(services: Services, cam: tuple[dict[str, str], dict[str, int]], **params: Any) -> set[str]:
    auth, ids = cam
    by_id = {v: k for k, v in ids.items()}
    return {by_id[f["flag_id"]] for f in (await listed(services, auth, limit=500, **params))["items"]}


async def test_offence_group_filter_matches_the_groups_the_console_shows(services: Services, cam: Any) -> None:
    catalogue = OffenceCatalogue.default()
    auth, _ = cam
    everything = (await listed(services, auth, limit=500))["items"]
    assert len(everything) == len(FLAGS)
    for group in sorted({o.group for o in catalogue}):
        expected = {f["flag_id"] for f in everything if group in offence_groups(f, catalogue)}
        got = {f["flag_id"] for f in (await listed(services, auth, limit=500, offence_group=group))["items"]}
        assert got == expected, group


async def test_offence_group_by_class_named_else_by_audit_category(services: Services, cam: Any) -> None:
    assert await names(services, cam, offence_group="Robbery") == {"robbery", "class wins"}
    assert await names(services, cam, offence_group="Violence against the person") == {"violence+theft", "downgrade"}
    assert await names(services, cam, offence_group="Theft offences") == {"violence+theft"}
    assert await names(services, cam, offence_group="Sexual offences") == {"rape cancelled"}
    assert await names(services, cam, offence_group="Criminal damage and arson") == {"other"}
    # Combined with the other filters.
    assert await names(services, cam, offence_group="Robbery", rule="UNDER_COUNT") == {"class wins"}


async def test_officer_filter_finds_who_asked_authorised_decided_or_recorded(services: Services, cam: Any) -> None:
    assert await names(services, cam, officer="off1") == {"robbery", "rape cancelled"}
    assert await names(services, cam, officer="ddm1") == {"rape cancelled"}
    assert await names(services, cam, officer="off2") == {"downgrade"}
    assert await names(services, cam, officer="nobody") == set()
    # A team: any of its officers.
    assert await names(services, cam, officer=["off2", "off3"]) == {"downgrade", "other"}


async def test_total_counts_every_page_of_the_filtered_listing(services: Services, cam: Any) -> None:
    auth, _ = cam
    first = await listed(services, auth, limit=2, with_total="true", offence_group="Violence against the person")
    assert first["total"] == 2 and len(first["items"]) == 2
    page = await listed(services, auth, limit=3, with_total="true")
    assert page["total"] == len(FLAGS) and page["next_after"] == page["items"][-1]["flag_id"]
    rest = await listed(services, auth, limit=500, with_total="true", after=page["next_after"])
    assert rest["total"] == len(FLAGS) and len(rest["items"]) == len(FLAGS) - 3 and rest["next_after"] is None
    assert (await listed(services, auth, officer="off1", with_total="true"))["total"] == 2
    assert (await listed(services, auth, limit=5))["total"] is None  # counted only when asked


async def test_an_unknown_offence_group_or_overlong_officer_is_a_precise_problem(services: Services, cam: Any) -> None:
    auth, _ = cam
    r = await services.auditor.get("/v1/flags", params={"offence_group": "Parking"}, headers=auth)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "Robbery" in r.json()["detail"] and r.json()["errors"][0]["field"] == "query.offence_group"
    for wrong in ("x" * 41, "off\x001"):
        r = await services.auditor.get("/v1/flags", params={"officer": wrong}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("query.officer"), wrong


def test_the_migration_keeps_the_classes_the_model_names() -> None:
    """The generated column is defined twice: frozen in revision 0009, and in the model the filters are written
    against. Naming another evidence key means a new revision; this says so when only the model changed."""
    import importlib.util
    from pathlib import Path

    from services.auditor import models

    path = Path(models.__file__).parent / "migrations" / "versions" / "0009_flag_classes.py"
    spec = importlib.util.spec_from_file_location("revision_0009", path)
    assert spec and spec.loader
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    assert revision.EVIDENCE_CLASSES == models.EVIDENCE_CLASSES
