"""The console in a real browser (headless Chromium through Playwright) against the running services: sign-in,
live alerts, the pending queue, a flag's detail, compliance, a sample audit, and roles refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from schemas.events import Role
from services.runtime.database import create_engine
from tests.console.conftest import ConsoleStack, screenshot_path
from tests.support import contact, eventually, idempotency_key

pytestmark = pytest.mark.timeout(120)


def received_ago(hours: float) -> dict[str, str]:
    """Changes to a contact received `hours` ago (it happened an hour before that)."""
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    return {
        "received_at": received.isoformat(),
        "occurred_from": (received - timedelta(hours=1)).isoformat(),
        "occurred_to": (received - timedelta(minutes=50)).isoformat(),
    }


UNCONFIRMED = {
    "reporter": {"relationship": "third_party", "name": "a neighbour", "phone": None, "email": None},
    "victims": [
        {"ref": "V1", "kind": "person", "name": "Sam Reid", "date_of_birth": None, "identified": True,
         "confirmed": False}
    ],
}  # fmt: skip


async def submit(stack: ConsoleStack, api: dict[str, httpx.AsyncClient], body: dict[str, Any]) -> dict[str, Any]:
    """Posts a contact as a call handler and waits for the recorder's decision."""
    r = await api["intake"].post("/v1/contacts", json=body, headers=stack.auth(Role.CALL_HANDLER) | idempotency_key())
    assert r.status_code == 201, r.text
    contact_id = r.json()["contact_id"]

    async def decided() -> dict[str, Any] | None:
        d = await api["recorder"].get(f"/v1/contacts/{contact_id}/decision", headers=stack.auth(Role.OFFICER))
        return d.json() if d.status_code == 200 else None

    return await eventually(decided)


async def wait_for_flag(
    stack: ConsoleStack, api: dict[str, httpx.AsyncClient], rule: str, contact_id: str
) -> dict[str, Any]:
    """The auditor's flag of `rule` on a contact, once raised."""

    async def raised() -> dict[str, Any] | None:
        r = await api["auditor"].get(
            "/v1/flags", params={"rule": rule, "contact_id": contact_id}, headers=stack.auth(Role.AUDITOR)
        )
        assert r.status_code == 200, r.text
        return r.json()["items"][0] if r.json()["items"] else None

    return await eventually(raised)


async def sign_in(page: Any, stack: ConsoleStack, role: Role, *, other: bool = False) -> None:
    """Signs in through the form with one of the session's keys."""
    await page.goto(stack.urls["console"] + "/console/sign-in")
    await page.get_by_label("API key").fill((stack.other_force if other else stack.keys)[role])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def shoot(page: Any, name: str) -> None:
    path = screenshot_path(name)
    if path:
        await page.screenshot(path=str(path), full_page=True)


# ------------------------------------------------------------------------------------------------ sign-in


async def test_signing_in_with_a_key_keeps_only_a_session_id_in_the_cookie(page: Any, console_stack: ConsoleStack):
    stack = console_stack
    await page.goto(stack.urls["console"] + "/console/alerts")
    assert page.url.endswith("/console/sign-in?next=/console/alerts")  # a page needs a sign-in first

    await page.get_by_label("API key").fill("crk_0123456789abcdef_not-a-real-secret-at-all")
    await page.get_by_role("button", name="Sign in").click()
    assert "unknown, malformed or revoked" in await page.locator("#sign-in-error").inner_text()
    await shoot(page, "sign-in")

    await page.get_by_label("API key").fill(stack.keys[Role.SUPERVISOR])
    await page.keyboard.press("Enter")  # the form works from the keyboard
    await page.wait_for_url(re.compile(r"/console/alerts$"))
    assert await page.get_by_role("heading", name="Live alerts").is_visible()
    assert "GMP" in await page.locator("header .who").inner_text()

    cookies = await page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "crimerec_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/console"
    assert stack.keys[Role.SUPERVISOR] not in session["value"]
    assert stack.keys[Role.SUPERVISOR].split("_", 2)[2] not in session["value"]
    engine = create_engine(stack.engines)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT * FROM console.sessions"))).mappings().all()
    finally:
        await engine.dispose()
    assert stored and all(stack.keys[Role.SUPERVISOR].encode() not in bytes(r["session_sha256"]) for r in stored)

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(r"/console/sign-in$"))
    await page.goto(stack.urls["console"] + "/console/alerts")
    assert "/console/sign-in" in page.url  # the session ended with the sign-out


# ------------------------------------------------------------------------------------------------ live alerts


async def test_a_live_alert_arrives_without_reload_and_is_acknowledged(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    await sign_in(page, stack, Role.SUPERVISOR)
    await page.wait_for_url(re.compile(r"/console/alerts$"))
    await page.locator("#live-status[data-state='live']").wait_for()

    # Recorded automatically, but 30 hours after the report: the auditor raises LATE_RECORD at once.
    decided = await submit(stack, api, contact(**received_ago(30)))
    assert decided["outcome"] == "recorded"
    flag = await wait_for_flag(stack, api, "LATE_RECORD", decided["contact_id"])

    row = page.locator(f"#flag-{flag['flag_id']}")
    await row.wait_for()  # arrived over the event stream: the page was not reloaded
    assert "LATE_RECORD" in await row.inner_text()
    assert "open" in await row.locator(".status").inner_text()
    await shoot(page, "alerts")

    await row.get_by_label("Note").fill("Looking into the delay with the crime bureau.")
    await row.get_by_role("button", name="Acknowledge").click()
    await page.locator(f"#flag-{flag['flag_id']} .status", has_text="acknowledged").wait_for()

    seen = (await api["auditor"].get(f"/v1/flags/{flag['flag_id']}", headers=stack.auth(Role.AUDITOR))).json()
    assert seen["status"] == "acknowledged"
    step = seen["history"][-1]
    assert step["status"] == "acknowledged" and step["note"] == "Looking into the delay with the crime bureau."
    assert step["by"] == stack.keys[Role.SUPERVISOR].split("_")[1]  # the supervisor's own key, not the console's

    # The console's own history says who, when and why, and cannot be rewritten.
    engine = create_engine(stack.engines)
    try:
        async with engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        text("SELECT * FROM console.alert_actions WHERE flag_id = :f"), {"f": flag["flag_id"]}
                    )
                )
                .mappings()
                .all()
            )
            assert [(r["action"], r["outcome"], r["by_key_id"]) for r in rows] == [
                ("acknowledged", "done", stack.keys[Role.SUPERVISOR].split("_")[1])
            ]
            with pytest.raises(Exception, match="append-only"):
                await conn.execute(text("DELETE FROM console.alert_actions"))
    finally:
        await engine.dispose()

    # Resolving needs a reason; with one, the flag is closed.
    await row.get_by_text("Resolve…").click()
    await row.get_by_label("Resolution").select_option("corrected")
    await row.get_by_label("Why (required)").fill("Recorded late; crime bureau rota changed.")
    await row.get_by_role("button", name="Resolve").click()
    await page.locator(f"#flag-{flag['flag_id']} .status", has_text="resolved").wait_for()
    seen = (await api["auditor"].get(f"/v1/flags/{flag['flag_id']}", headers=stack.auth(Role.AUDITOR))).json()
    assert seen["status"] == "resolved" and seen["resolution"] == "corrected"


# ------------------------------------------------------------------------------------------------ pending


async def test_the_pending_queue_is_sorted_by_hours_left_and_marks_the_overdue(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    later = await submit(stack, api, contact(**UNCONFIRMED, **received_ago(2)))
    overdue = await submit(stack, api, contact(**UNCONFIRMED, **received_ago(26)))
    sooner = await submit(stack, api, contact(**UNCONFIRMED, **received_ago(20)))
    assert {later["outcome"], overdue["outcome"], sooner["outcome"]} == {"pending"}

    await sign_in(page, stack, Role.OFFICER)
    await page.wait_for_url(re.compile(r"/console/pending$"))  # an officer's first page
    await shoot(page, "pending")
    order = [await r.get_attribute("data-contact") for r in await page.locator("#pending tbody tr").all()]
    mine = [c for c in order if c in {later["contact_id"], overdue["contact_id"], sooner["contact_id"]}]
    assert mine == [overdue["contact_id"], sooner["contact_id"], later["contact_id"]]

    overdue_row = page.locator(f"tr[data-contact='{overdue['contact_id']}']")
    assert "overdue" in (await overdue_row.get_attribute("class") or "")
    assert re.search(r"OVERDUE\s+2 h 0\d min overdue", await overdue_row.inner_text())
    later_row = page.locator(f"tr[data-contact='{later['contact_id']}']")
    assert re.search(r"(21 h 5\d|22 h 00) min left", await later_row.inner_text())
    assert "No screening reviews are waiting." in await page.locator("main").inner_text()


async def test_a_supervisor_sees_the_contacts_screened_positive_awaiting_review(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    hidden = await submit(
        stack,
        api,
        contact(
            incident={"category": "public_safety", "opening_code": None, "qualifiers": []},
            offences=[],
            narrative="Concern for welfare. Caller says her partner punched her in the face last night; she has "
            "a cut lip and is scared to go home.",
        ),
    )
    assert hidden["outcome"] == "non_crime"

    async def queued() -> bool:
        r = await api["recorder"].get("/v1/screening/reviews", headers=stack.auth(Role.SUPERVISOR))
        return any(item["contact_id"] == hidden["contact_id"] for item in r.json()["items"])

    await eventually(queued)
    await sign_in(page, stack, Role.SUPERVISOR)
    await page.goto(stack.urls["console"] + "/console/pending")
    reviews = await page.locator("#reviews").inner_text()
    assert hidden["contact_id"] in reviews
    assert "screened positive" in reviews and "violence" in reviews


# ------------------------------------------------------------------------------------------------ flags


async def test_a_flag_can_be_found_by_filters_and_shows_contact_decision_and_events(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    decided = await submit(stack, api, contact(**UNCONFIRMED, **received_ago(25)))
    flag = await wait_for_flag(stack, api, "MISSING_RECORD", decided["contact_id"])

    await sign_in(page, stack, Role.AUDITOR)
    await page.goto(stack.urls["console"] + "/console/flags")
    await page.get_by_label("Rule").select_option("MISSING_RECORD")
    await page.get_by_label("Offence group").select_option("Violence against the person")
    await page.get_by_role("button", name="Filter").click()
    # Only the results are redrawn (htmx), and the filters go into the address, so the page can be shared.
    await page.wait_for_url(re.compile(r"rule=MISSING_RECORD.*offence_group=Violence"))
    link = page.get_by_role("link", name=f"#{flag['flag_id']}", exact=True)
    await link.wait_for()
    assert set(await page.locator("#flags tbody tr td:nth-child(3)").all_inner_texts()) == {"MISSING_RECORD"}
    await shoot(page, "flags")

    csv = await page.request.get(stack.urls["console"] + "/console/flags.csv?rule=MISSING_RECORD")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = (await csv.text()).splitlines()
    assert lines[0].startswith("flag_id,rule,severity")
    assert any(line.startswith(f"{flag['flag_id']},MISSING_RECORD,") for line in lines[1:])

    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"/console/flags/{flag['flag_id']}$"))
    body = await page.locator("main").inner_text()
    assert f"Flag #{flag['flag_id']}: MISSING_RECORD" in body
    assert decided["contact_id"] in body
    assert "pending" in await page.locator("#decision").inner_text()  # the recorder's decision
    assert "Narrative" in body and "punched twice" in body  # the contact as intake received it
    timeline = await page.locator("#timeline tbody").inner_text()
    assert "contact.received" in timeline and "contact.decided: pending" in timeline and "flag open" in timeline
    await shoot(page, "flag")


async def test_flags_filter_by_officer_or_team_count_the_matches_and_cancellations_show_by_reason(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    decided = await submit(stack, api, contact())
    crn = decided["crime_references"][0]
    asked = await api["recorder"].post(
        f"/v1/crimes/{crn}/cancellation-requests",
        json={"code": "C2", "explanation": "CCTV shows the phone was dropped, not taken.",
              "avi": {"description": "CCTV of the whole incident", "held_at": "exhibit JB/1"},
              "victim_informed": True, "victim_informed_at": datetime.now(UTC).isoformat()},
        headers=stack.auth(Role.OFFICER),
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    approved = await api["recorder"].post(
        f"/v1/cancellation-requests/{asked.json()['request_id']}/approval",
        json={"note": "AVI seen."}, headers=stack.auth(Role.DDM),
    )  # fmt: skip
    assert approved.status_code == 200, approved.text
    flag = await wait_for_flag(stack, api, "HIGH_RISK_CANCELLATION", decided["contact_id"])
    ddm = stack.keys[Role.DDM].split("_")[1]  # the principal the evidence names as the authoriser

    await sign_in(page, stack, Role.FCR)
    await page.goto(stack.urls["console"] + "/console/flags")
    await page.get_by_label("Officer or team").fill(f"nobody, {ddm}")  # a team: any of its officers
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"officer=nobody"))
    await page.get_by_role("link", name=f"#{flag['flag_id']}", exact=True).wait_for()
    expected = await api["auditor"].get(
        "/v1/flags", params=[("officer", "nobody"), ("officer", ddm), ("with_total", "true")],
        headers=stack.auth(Role.FCR),
    )  # fmt: skip
    total = expected.json()["total"]
    assert total >= 1 and {f["flag_id"] for f in expected.json()["items"]} >= {flag["flag_id"]}
    assert await page.locator("#flag-count").inner_text() == f"Flags 1–{min(total, 50)} of {total:,} matching"
    await page.get_by_label("Officer or team").fill("nobody")
    await page.get_by_role("button", name="Filter").click()
    await page.locator("#flag-results .empty").wait_for()

    await page.goto(stack.urls["console"] + "/console/compliance")
    reasons = await page.locator("#cancellation-reasons").inner_text()
    assert re.search(r"C2 additional verifiable information.*\d+ of [1-9]\d* correct", reasons)
    assert "C3 duplicate" in reasons and "0 of 0 correct" in reasons


# ------------------------------------------------------------------------------------------------ compliance


async def test_compliance_draws_its_charts_from_the_auditors_figures(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    await submit(stack, api, contact())
    await sign_in(page, stack, Role.FCR)
    await page.goto(stack.urls["console"] + "/console/compliance")
    expected = (
        await api["auditor"].get(
            "/v1/stats/recording",
            params={"from": (datetime.now(UTC) - timedelta(days=83)).date().isoformat() + "T00:00:00+00:00",
                    "to": (datetime.now(UTC) + timedelta(days=1)).date().isoformat() + "T00:00:00+00:00"},
            headers=stack.auth(Role.FCR),
        )
    ).json()  # fmt: skip
    overall = expected["recording_rate"]["overall"]
    assert await page.locator("#overall-rate").inner_text() == f"{overall['rate'] * 100:.1f}%"
    assert "0 of 0 correct" in await page.locator("#cancellations").inner_text()
    # The period's figures are its weeks' added up, and agree with the auditor's own for the whole period.
    assert (
        f"{overall['numerator']} of {overall['denominator']} crimes recorded" in await page.locator("main").inner_text()
    )
    if overall["rate"] is not None:
        assert f"± {overall['margin'] * 100:.2f}%" in await page.locator("main").inner_text()
    for chart in ("chart-weekly", "chart-groups", "chart-cancellations"):  # drawn by the vendored Chart.js
        assert await page.evaluate(f"Chart.getChart(document.getElementById('{chart}')) !== undefined")
    await shoot(page, "compliance")


# ------------------------------------------------------------------------------------------------ sample audit


async def test_a_sample_audit_is_drawn_judged_and_exported(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    for _ in range(3):
        await submit(stack, api, contact(**received_ago(1)))
    today = datetime.now(UTC).date()

    await sign_in(page, stack, Role.AUDITOR)
    await page.goto(stack.urls["console"] + "/console/audits")
    await page.get_by_label("First day").fill((today - timedelta(days=3)).isoformat())
    await page.get_by_label("Last day").fill(today.isoformat())
    await page.get_by_label("Contacts to sample").fill("3")
    await page.get_by_label("Seed (optional)").fill("20170101")
    await page.get_by_role("button", name="Draw sample").click()
    await page.wait_for_url(re.compile(r"/console/audits/[0-9a-f-]{36}"))
    audit_id = page.url.split("/console/audits/")[1][:36]
    assert await page.locator("#audit-seed").inner_text() == "20170101"
    assert await page.locator("#audit-progress").inner_text() == "0 / 3"

    # Step through: two correct, one incorrect with a reason.
    for verdict in ("correct", "correct", "incorrect"):
        await page.get_by_role("radio", name=verdict.capitalize(), exact=True).check()
        await page.get_by_label("Crimes that should have been recorded").fill("1")
        if verdict == "incorrect":
            await page.get_by_role("spinbutton", name="If incorrect").fill("0")
            await page.get_by_role("textbox", name="Reason").fill("Victim's assault closed without a record.")
        await page.get_by_role("button", name="Save and next").click()
        await page.wait_for_load_state()
    await page.locator("#audit-done").wait_for()
    assert await page.locator("#audit-progress").inner_text() == "3 / 3"
    await shoot(page, "audit")

    audit = (await api["auditor"].get(f"/v1/audits/{audit_id}", headers=stack.auth(Role.AUDITOR))).json()
    rate = audit["result"]["recording_rate"]
    assert (rate["numerator"], rate["denominator"]) == (2, 3)
    assert await page.locator("#audit-rate").inner_text() == f"{rate['rate'] * 100:.1f}%"
    assert f"{rate['ci_low'] * 100:.1f}%–{rate['ci_high'] * 100:.1f}%" in await page.locator("main").inner_text()
    notes = sorted(i["note"] for i in audit["items"])
    assert notes == ["correct", "correct", "incorrect: Victim's assault closed without a record."]

    csv = await page.request.get(stack.urls["console"] + f"/console/audits/{audit_id}/export.csv")
    text_ = await csv.text()
    assert csv.status == 200 and "incorrect: Victim's assault closed without a record." in text_
    assert f"recording_rate,{rate['rate']}" in text_

    # The same seed over the same period draws the same sample: an inspection can be repeated.
    again = await api["auditor"].post(
        "/v1/audits",
        json={"period_from": audit["period_from"], "period_to": audit["period_to"], "size": 3, "seed": 20170101},
        headers=stack.auth(Role.AUDITOR),
    )
    assert [i["contact_id"] for i in again.json()["items"]] == [i["contact_id"] for i in audit["items"]]
    await page.goto(stack.urls["console"] + "/console/audits")
    assert await page.get_by_role("link").filter(has_text=str(today.year)).count() >= 1


# ------------------------------------------------------------------------------------------------ refusals


async def test_roles_are_refused_pages_and_actions_they_do_not_hold(
    page: Any, console_stack: ConsoleStack, api: dict[str, httpx.AsyncClient]
) -> None:
    stack = console_stack
    # A call handler has no page in the console at all.
    await sign_in(page, stack, Role.CALL_HANDLER)
    assert "no page for your role (call_handler)" in await page.locator("#sign-in-error").inner_text()
    assert not [c for c in await page.context.cookies() if c["name"] == "crimerec_console"]

    # An officer may see the pending queue but not the flags, and the menu offers only what the role may open.
    await sign_in(page, stack, Role.OFFICER)
    assert [await a.inner_text() for a in await page.locator("header nav a").all()] == ["Pending decisions"]
    response = await page.goto(stack.urls["console"] + "/console/flags")
    assert response.status == 403
    assert "Not allowed for your role" in await page.locator("h1").inner_text()
    assert "You hold: officer" in await page.locator("main").inner_text()
    await shoot(page, "refused")

    # A supervisor reads sample audits but may not draw one: refused by the console before the auditor is asked.
    await page.context.clear_cookies()
    await sign_in(page, stack, Role.SUPERVISOR)
    await page.goto(stack.urls["console"] + "/console/audits")
    assert await page.locator("#draw-form").count() == 0
    refused = await page.request.post(
        stack.urls["console"] + "/console/audits",
        form={"from": "2026-01-01", "to": "2026-01-31", "size": "5"},
        headers={"Accept": "application/json"},
    )
    assert refused.status == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await refused.json())["title"] == "Not allowed for your role"

    # Another force's flag is not even acknowledged to exist.
    decided = await submit(stack, api, contact(**received_ago(30)))
    flag = await wait_for_flag(stack, api, "LATE_RECORD", decided["contact_id"])
    await page.context.clear_cookies()
    await sign_in(page, stack, Role.SUPERVISOR, other=True)
    response = await page.goto(stack.urls["console"] + f"/console/flags/{flag['flag_id']}")
    assert response.status == 404
    assert f"No flag {flag['flag_id']}." in await page.locator("main").inner_text()


async def test_without_a_sign_in_the_stream_and_downloads_answer_problem_json(console_stack: ConsoleStack) -> None:
    async with httpx.AsyncClient(base_url=console_stack.urls["console"]) as client:
        for path in ("/console/alerts/stream", "/console/flags.csv"):
            r = await client.get(path)
            assert r.status_code == 401, path
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["title"] == "Not signed in"
        r = await client.post(
            "/console/sign-in",
            content="api_key=x",
            headers={"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 403 and r.json()["title"] == "Cross-site request refused"
