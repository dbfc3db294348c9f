"""The thin slice through all three services, in this process, on the real engines."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key


async def test_a_contact_becomes_a_crime_record_and_the_auditor_sees_it(services: Services, keys: Keys) -> None:
    body = contact()
    response = await services.intake.post(
        "/v1/contacts", json=body, headers=keys.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    assert response.status_code == 201, response.text
    contact_id = response.json()["contact_id"]

    async def decided() -> httpx.Response | None:
        r = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.OFFICER))
        return r if r.status_code == 200 else None

    decision = (await eventually(decided)).json()
    assert decision["outcome"] == "recorded"
    assert len(decision["crime_references"]) == 1
    crn = decision["crime_references"][0]
    assert crn.startswith("GMP-")

    crime = (await services.recorder.get(f"/v1/crimes/{crn}", headers=keys.auth(Role.OFFICER))).json()
    assert crime["ho_class"] == "8N"
    assert crime["audit_category"] == "violence"
    received = datetime.fromisoformat(body["received_at"])
    assert datetime.fromisoformat(crime["recording_deadline"]) == received + timedelta(hours=24)

    listed = (
        await services.recorder.get(f"/v1/crimes?contact_id={contact_id}", headers=keys.auth(Role.OFFICER))
    ).json()
    assert [c["crime_reference"] for c in listed["items"]] == [crn]

    async def audited() -> dict[str, object] | None:
        r = await services.auditor.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.AUDITOR))
        return r.json() if r.status_code == 200 and r.json()["status"] == "recorded" else None

    view = await eventually(audited)
    assert view["expected_crimes"] == 1
    assert [c["crime_reference"] for c in view["recorded_crimes"]] == [crn]

    async def intake_status() -> dict[str, object] | None:
        r = await services.intake.get(f"/v1/contacts/{contact_id}", headers=keys.auth(Role.OFFICER))
        return r.json() if r.json()["status"] == "decided" else None

    seen = await eventually(intake_status)
    assert seen["crime_references"] == [crn]
