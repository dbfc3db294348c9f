"""The auditor's statistics over HTTP, on the real pipeline: recording rates and cancellations by category."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

from schemas.events import Role
from tests.conftest import Keys, Services
from tests.support import contact, eventually, idempotency_key

STATS_FORCE = "WMP"  # a force no other test posts for, so the figures are exactly this test's contacts


async def post(services: Services, keys: dict[str, str], body: dict[str, object]) -> str:
    response = await services.intake.post(
        "/v1/contacts", json=body, headers={"Authorization": f"Bearer {keys['call_handler']}"} | idempotency_key()
    )
    assert response.status_code == 201, response.text
    contact_id: str = response.json()["contact_id"]
    return contact_id


async def test_recording_rate_counts_required_against_recorded_crimes(services: Services, engines: object) -> None:
    from crimerec import stack
    from schemas.events import Role as R

    keys = await stack.issue_keys(engines, force=STATS_FORCE, roles=[R.CALL_HANDLER, R.AUDITOR], label="stats")  # type: ignore[arg-type]
    start = datetime.now(UTC) - timedelta(hours=1)
    area = {"description": "x", "postcode": None, "force_area": STATS_FORCE}
    # Recorded in full: one assault.
    one = await post(services, keys, contact(force=STATS_FORCE, location=area))
    # Two identified victims, both assaulted: two crimes required and recorded.
    two_victims = contact(
        force=STATS_FORCE,
        location=area,
        victims=[
            {"ref": "V1", "kind": "person", "name": "A", "identified": True, "confirmed": True},
            {"ref": "V2", "kind": "person", "name": "B", "identified": True, "confirmed": True},
        ],
        offences=[{"victim_ref": "V1", "ho_class": "8N"}, {"victim_ref": "V2", "ho_class": "105A"}],
    )
    two = await post(services, keys, two_victims)
    auditor = {"Authorization": f"Bearer {keys['auditor']}"}

    async def seen() -> bool:
        for contact_id, crimes in ((one, 1), (two, 2)):
            view = (await services.auditor.get(f"/v1/contacts/{contact_id}", headers=auditor)).json()
            if len(view.get("recorded_crimes", [])) != crimes:
                return False
        return True

    await eventually(seen)
    end = datetime.now(UTC) + timedelta(minutes=1)
    query = urllib.parse.urlencode({"from": start.isoformat(), "to": end.isoformat()})
    stats = (await services.auditor.get(f"/v1/stats/recording?{query}", headers=auditor)).json()
    overall = stats["recording_rate"]["overall"]
    assert (overall["numerator"], overall["denominator"], overall["rate"]) == (3, 3, 1.0)
    assert stats["recording_rate"]["violence"]["denominator"] == 3
    assert stats["recording_rate"]["rape"]["denominator"] == 0 and stats["recording_rate"]["rape"]["rate"] is None
    assert stats["recorded_within_limit"]["rate"] == 1.0
    assert overall["ci_low"] < 1.0 <= overall["ci_high"]
    assert stats["recorded_crime_12_months"] == 3
    assert stats["unrecorded_crimes_per_year"] == 0

    published = (
        await services.auditor.get(f"/v1/stats/recording?{query}&recorded_crime_12_months=224000", headers=auditor)
    ).json()
    assert published["recorded_crime_12_months"] == 224000

    # Week by week from three weeks back: each week as /stats/recording gives it, the last holding the contacts.
    weeks_from = start - timedelta(days=14)
    query = urllib.parse.urlencode({"from": weeks_from.isoformat(), "to": end.isoformat()})
    series = (await services.auditor.get(f"/v1/stats/recording/weekly?{query}", headers=auditor)).json()
    assert [datetime.fromisoformat(w["period_from"]) for w in series["weeks"]] == [
        weeks_from + timedelta(days=7 * i) for i in range(3)
    ]
    assert datetime.fromisoformat(series["weeks"][-1]["period_to"]) == end
    for week in series["weeks"]:
        bounds = urllib.parse.urlencode({"from": week["period_from"], "to": week["period_to"]})
        alone = (await services.auditor.get(f"/v1/stats/recording?{bounds}", headers=auditor)).json()
        assert week == alone
    assert [w["recording_rate"]["overall"]["denominator"] for w in series["weeks"]] == [0, 0, 3]
    assert series["weeks"][-1]["recorded_crime_12_months"] == 3


async def test_stats_are_scoped_to_the_callers_force_and_need_a_timezone(services: Services, keys: Keys) -> None:
    now = datetime.now(UTC)
    query = urllib.parse.urlencode({"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()})
    other = await services.auditor.get(f"/v1/stats/recording?{query}&force=MPS", headers=keys.auth(Role.AUDITOR))
    assert other.status_code == 403
    naive = await services.auditor.get(
        "/v1/stats/recording?from=2026-01-01T00:00:00&to=2026-02-01T00:00:00", headers=keys.auth(Role.AUDITOR)
    )
    assert naive.status_code == 422
    assert naive.headers["content-type"].startswith("application/problem+json")
    officer = await services.auditor.get(f"/v1/stats/recording?{query}", headers=keys.auth(Role.OFFICER))
    assert officer.status_code == 403


async def test_cancellations_table_has_the_four_audit_categories(services: Services, keys: Keys) -> None:
    now = datetime.now(UTC)
    query = urllib.parse.urlencode({"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()})
    response = await services.auditor.get(f"/v1/stats/cancellations?{query}", headers=keys.auth(Role.AUDITOR))
    assert response.status_code == 200, response.text
    rows = response.json()["categories"]
    assert [r["audit_category"] for r in rows] == ["rape", "other_sexual", "violence", "robbery"]
    assert all(r["summary"] == f"{r['correct']} of {r['cancellations']} correct" for r in rows)


async def test_ids_and_periods_out_of_range_are_refused_not_failed(services: Services, keys: Keys) -> None:
    """A flag id past PostgreSQL's bigint and a period at the ends of the calendar get a 422 naming the field."""
    auditor = keys.auth(Role.AUDITOR)
    for path in (f"/v1/flags/{2**63}", f"/v1/flags?after={2**63}"):
        response = await services.auditor.get(path, headers=auditor)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    query = urllib.parse.urlencode({"from": "0001-01-01T00:00:00Z", "to": "0001-06-01T00:00:00Z"})
    for path in (f"/v1/stats/recording?{query}", f"/v1/stats/recording/weekly?{query}",
                 f"/v1/stats/cancellations?{query}"):  # fmt: skip
        response = await services.auditor.get(path, headers=auditor)
        assert response.status_code == 422, (path, response.text)
        assert "1900" in response.json()["detail"]
    decade = urllib.parse.urlencode({"from": "2000-01-01T00:00:00Z", "to": "2011-01-01T00:00:00Z"})
    response = await services.auditor.get(f"/v1/stats/recording/weekly?{decade}", headers=auditor)
    assert response.status_code == 422 and "520 weeks" in response.json()["detail"]
