"""Sample audits over HTTP: draw a reproducible sample, judge each item, read the rate and annual estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crimerec import stack
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import Services
from tests.support import contact, eventually, idempotency_key

AUDIT_FORCE = "SYP"  # only this test posts for it


async def test_a_sample_audit_is_reproducible_and_gives_the_rate_of_its_judgements(
    services: Services, engines: EngineSettings
) -> None:
    keys = await stack.issue_keys(
        engines, force=AUDIT_FORCE, roles=[Role.CALL_HANDLER, Role.AUDITOR, Role.OFFICER], label="audits"
    )
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    start = datetime.now(UTC) - timedelta(hours=1)
    area = {"description": "x", "postcode": None, "force_area": AUDIT_FORCE}
    ids = []
    for _ in range(6):
        response = await services.intake.post(
            "/v1/contacts",
            json=contact(force=AUDIT_FORCE, location=area),
            headers=auth["call_handler"] | idempotency_key(),
        )
        ids.append(response.json()["contact_id"])

    async def all_seen() -> bool:
        views = [await services.auditor.get(f"/v1/contacts/{i}", headers=auth["auditor"]) for i in ids]
        # The report and its crime: they travel on different topics, so either may be read first.
        return all(v.status_code == 200 and v.json()["received_at"] and v.json()["recorded_crimes"] for v in views)

    await eventually(all_seen)
    period = {"period_from": start.isoformat(), "period_to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}
    first = await services.auditor.post("/v1/audits", json=period | {"size": 4, "seed": 42}, headers=auth["auditor"])
    assert first.status_code == 201, first.text
    audit = first.json()
    assert audit["population"] == 6 and len(audit["items"]) == 4
    assert {item["contact_id"] for item in audit["items"]} <= set(ids)
    again = await services.auditor.post("/v1/audits", json=period | {"size": 4, "seed": 42}, headers=auth["auditor"])
    assert [i["contact_id"] for i in again.json()["items"]] == [i["contact_id"] for i in audit["items"]]

    # Judge: three correctly recorded, one where two crimes were due and only one recorded.
    url = f"/v1/audits/{audit['audit_id']}/items"
    for n, (required, correct) in enumerate([(1, 1), (1, 1), (1, 1), (2, 1)], start=1):
        judged = await services.auditor.put(
            f"{url}/{n}", json={"crimes_required": required, "crimes_correctly_recorded": correct},
            headers=auth["auditor"],
        )  # fmt: skip
        assert judged.status_code == 200, judged.text
    result = judged.json()["result"]
    assert result["judged"] == 4
    assert (result["recording_rate"]["numerator"], result["recording_rate"]["denominator"]) == (4, 5)
    assert result["recording_rate"]["rate"] == 0.8
    assert result["recording_rate"]["ci_low"] < 0.8 < result["recording_rate"]["ci_high"]
    assert result["recorded_crime_12_months"] == 6
    assert abs(result["unrecorded_crimes_per_year"] - 1.5) < 1e-9  # 6 × (1 − 0.8) / 0.8

    published = await services.auditor.get(
        f"/v1/audits/{audit['audit_id']}?recorded_crime_12_months=224000", headers=auth["auditor"]
    )
    assert abs(published.json()["result"]["unrecorded_crimes_per_year"] - 56000) < 1e-6

    impossible = await services.auditor.put(
        f"{url}/1", json={"crimes_required": 1, "crimes_correctly_recorded": 2}, headers=auth["auditor"]
    )
    assert impossible.status_code == 422
    missing = await services.auditor.put(
        f"{url}/99", json={"crimes_required": 1, "crimes_correctly_recorded": 1}, headers=auth["auditor"]
    )
    assert missing.status_code == 404
    officer = await services.auditor.post("/v1/audits", json=period | {"size": 1}, headers=auth["officer"])
    assert officer.status_code == 403
