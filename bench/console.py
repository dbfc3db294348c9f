"""Console speed at 100,000 contacts: the server time of every console page, and of the service calls behind them.

    .venv/bin/python bench/console.py [--contacts 100000] [--days 100] [--requests 15]

1. Seeds a store as a real run leaves it, by replaying generated events through the real services: intake's rows
   are written with intake's own table in batches (as `POST /v1/contacts` writes them), the contacts topic is
   filled with their `contact.received` events (each occurring when its contact was received, spread over
   `--days`), and the recorder and the auditor (simulated clock, event time: as `crimerec simulate` runs them)
   decide, record, project and flag every one. The mix: recordable crimes, crime-related contacts with no offence
   classified (pending; past their deadline they are MISSING_RECORD flags), crime-related incidents closed on
   credible evidence, and non-crime incidents. Then, over HTTP as people would: cancellations asked for and
   approved, flags acknowledged, and a sample audit drawn and partly judged.
2. Starts the console against those services and times every page (signed in with the role that uses it) and
   every intake / recorder / auditor call behind the pages, `--requests` times each, one at a time: p50, p95 and
   max of the response time on loopback (client side, so server time plus well under a millisecond), against the
   issue's 300 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, services_running, start, wait_for_rows, wait_ready
from recorder import fill_topic

from crimerec import stack
from crimerec.embedded import free_port
from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for
from services.runtime.database import asyncpg_dsn

console = Console()
TARGET_MS = 300
CLASSES = ["8N", "105A", "28E", "49", "58A", "34B", "45", "46", "5D", "104", "19C", "17A", "34A", "8L"]


def contact_body(rng: random.Random, received_at: datetime, classes: list[str]) -> dict[str, Any]:
    """One contact of the mix (recordable 80%, pending 8%, closed on credible evidence 6%, non-crime 6%)."""
    kind = rng.random()
    victims = [
        {"ref": f"V{i}", "kind": "person", "name": f"Victim {i}", "identified": True, "confirmed": True}
        for i in range(1, rng.choice([1, 1, 1, 2]) + 1)
    ]
    body: dict[str, Any] = {
        "force": "GMP",
        "source": {"system": "BENCH", "reference": uuid.uuid4().hex},
        "channel": rng.choice(["999", "101", "online"]),
        "received_at": received_at.isoformat(),
        "reporter": {"relationship": "victim"},
        "victims": victims,
        "incident": {"category": "crime"},
        "location": {"force_area": "GMP"},
        "offences": [
            {"victim_ref": rng.choice(victims)["ref"], "ho_class": rng.choice(classes), "offender_ref": "S1"}
            for _ in range(rng.choice([1, 1, 2, 3]))
        ],
        "narrative": "Reported at first contact; simulated for the console benchmark.",
    }
    if 0.80 <= kind < 0.88:
        body["offences"] = []  # crime-related, nothing classified: a person must decide (pending)
    elif 0.88 <= kind < 0.94:
        body["credible_evidence_to_contrary"] = "CCTV shows the property was mislaid, not taken."
    elif kind >= 0.94:
        body["offences"] = []
        body["incident"] = {"category": rng.choice(["asb", "public_safety", "transport"])}
    return body


def generated(n: int, days: float) -> tuple[list[Envelope], list[dict[str, Any]]]:
    """N `contact.received` events in order of receipt, and the intake rows that go with them."""
    rng = random.Random(20261207)
    catalogue = OffenceCatalogue.default()
    classes = [c for c in CLASSES if catalogue.get(c) is not None]
    end = datetime.now(UTC) - timedelta(hours=1)
    times = sorted(end - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(n))
    actor = Actor(principal="bench", roles=[Role.CALL_HANDLER], force="GMP")
    events, rows = [], []
    for received_at in times:
        contact = ContactCreate.model_validate(contact_body(rng, received_at, classes))
        cid = uuid.uuid4()
        payload = ContactReceived(
            contact_id=cid, force="GMP", received_at=contact.received_at, submitted_by=actor, contact=contact
        )
        env = envelope_for(payload, producer="intake", correlation_id=cid, occurred_at=received_at)
        events.append(env)
        rows.append(
            {"contact_id": cid, "force": "GMP", "source_system": "BENCH", "source_reference": contact.source.reference,
             "received_at": received_at, "body": contact.model_dump_json(), "submitted_by": "bench",
             "event_id": env.event_id}
        )  # fmt: skip
    return events, rows


async def seed_intake(dsn: str, rows: list[dict[str, Any]]) -> None:
    """Intake's contacts as its POST writes them, in batches of 5,000 (COPY)."""
    conn = await asyncpg.connect(dsn)
    columns = list(rows[0])
    try:
        for i in range(0, len(rows), 5000):
            records = [tuple(r[c] for c in columns) for r in rows[i : i + 5000]]
            await conn.copy_records_to_table("contacts", schema_name="intake", columns=columns, records=records)
    finally:
        await conn.close()


async def people_act(urls: dict[str, str], keys: dict[str, str], cancellations: int) -> dict[str, Any]:
    """What people do in a working week: cancellations asked for and approved, flags acknowledged, a sample
    audit drawn and partly judged. Returns what the timing needs (ids to open)."""
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    async with httpx.AsyncClient(timeout=60) as client:
        crimes = await client.get(f"{urls['recorder']}/v1/crimes", params={"limit": 500}, headers=auth["fcr"])
        crimes.raise_for_status()
        crns = [c["crime_reference"] for c in crimes.json()["items"]][:cancellations]
        gate = asyncio.Semaphore(8)

        async def cancel(i: int, crn: str) -> None:
            async with gate:
                grounds: dict[str, Any] = (
                    {"code": "C4", "explanation": "Recorded against the wrong person.", "error": "wrong victim"}
                    if i % 3
                    else {"code": "C2", "explanation": "CCTV shows it was dropped.",
                          "avi": {"description": "CCTV of the whole incident", "held_at": f"exhibit {i}"}}
                )  # fmt: skip
                told = {"victim_informed": True, "victim_informed_at": datetime.now(UTC).isoformat()}
                r = await client.post(
                    f"{urls['recorder']}/v1/crimes/{crn}/cancellation-requests",
                    json=grounds | (told if i % 4 else {"victim_informed": False}),
                    headers=auth["officer"],
                )
                if r.status_code == 201 and i % 5:
                    request_id = r.json()["request_id"]
                    await client.post(
                        f"{urls['recorder']}/v1/cancellation-requests/{request_id}/approval",
                        json={"note": "agreed"}, headers=auth["ddm"],
                    )  # fmt: skip

        await asyncio.gather(*(cancel(i, crn) for i, crn in enumerate(crns)))
        flags = (await client.get(f"{urls['auditor']}/v1/flags", params={"limit": 100}, headers=auth["fcr"])).json()
        for flag in flags["items"][:60]:
            await client.post(
                f"{urls['auditor']}/v1/flags/{flag['flag_id']}/acknowledgement",
                json={"note": "looking into it"}, headers=auth["supervisor"],
            )  # fmt: skip
        end = datetime.now(UTC)
        audit = await client.post(
            f"{urls['auditor']}/v1/audits",
            json={"period_from": (end - timedelta(days=30)).isoformat(), "period_to": end.isoformat(), "size": 100,
                  "stratify": True, "seed": 7},
            headers=auth["auditor"],
        )  # fmt: skip
        audit.raise_for_status()
        audit_id = audit.json()["audit_id"]
        for item in range(1, 21):
            await client.put(
                f"{urls['auditor']}/v1/audits/{audit_id}/items/{item}",
                json={"crimes_required": 1, "crimes_correctly_recorded": item % 7 != 0, "note": "checked"},
                headers=auth["auditor"],
            )  # fmt: skip
    return {"audit_id": audit_id, "crimes": crns}


async def caught_up(url: str, key: str, patience: float = 1800) -> None:
    """Waits until the auditor has judged everything on its topics."""
    deadline = time.monotonic() + patience
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < deadline:
            try:
                r = await client.get(f"{url}/v1/clock", headers={"Authorization": f"Bearer {key}"})
            except httpx.HTTPError:  # busy replaying a large batch
                continue
            if r.status_code == 200 and r.json()["caught_up"]:
                return
            await asyncio.sleep(1)
    raise SystemExit("the auditor did not catch up")


async def timed(client: httpx.AsyncClient, url: str, requests: int, **kwargs: Any) -> list[float]:
    """Milliseconds of each of `requests` GETs, one at a time, after one warm-up (two when that took over 3 s)."""
    out: list[float] = []
    i = 0
    while i <= requests:
        started = time.perf_counter()
        r = await client.get(url, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200:
            raise SystemExit(f"GET {url} answered {r.status_code}: {r.text[-600:]}")
        if i:
            out.append(elapsed)
        elif elapsed > 3000:
            requests = min(requests, 2)
        i += 1
    return out


async def console_client(url: str, key: str) -> httpx.AsyncClient:
    """A browser-like client of the console, signed in with `key`."""
    client = httpx.AsyncClient(base_url=url, timeout=120, headers={"Accept": "text/html", "Origin": url})
    r = await client.post("/console/sign-in", data={"api_key": key}, follow_redirects=False)
    if r.status_code != 303:
        raise SystemExit(f"sign-in answered {r.status_code}")
    return client


async def facts_for_timing(urls: dict[str, str], keys: dict[str, str]) -> dict[str, Any]:
    """A flag to open (MISSING_RECORD and one with a crime), its contact, a crime, and an officer named in flags."""
    auth = {"Authorization": f"Bearer {keys['fcr']}"}
    async with httpx.AsyncClient(base_url=urls["auditor"], timeout=60, headers=auth) as client:
        missing = (await client.get("/v1/flags", params={"rule": "MISSING_RECORD", "limit": 1})).json()["items"]
        some = (await client.get("/v1/flags", params={"limit": 500})).json()["items"]
    with_crime = next((f for f in some if f["crime_reference"]), some[0] if some else None)
    flag = with_crime or (missing[0] if missing else None)
    if flag is None:
        raise SystemExit("no flag was raised: nothing to time")
    return {"flag": flag, "officer": keys["officer"].split("_")[1], "middle": some[len(some) // 2]["flag_id"]}


def console_pages(facts: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, role, path, params) of every console page worth timing."""
    flag = facts["flag"]
    return [
        ("alerts", "supervisor", "/console/alerts", {}),
        ("pending", "supervisor", "/console/pending", {}),
        ("flags", "fcr", "/console/flags", {}),
        ("flags, page 2 (keyset)", "fcr", "/console/flags", {"after": facts["middle"]}),
        ("flags by rule", "fcr", "/console/flags", {"rule": "MISSING_RECORD"}),
        ("flags by offence group", "fcr", "/console/flags", {"offence_group": "Robbery"}),
        ("flags by officer", "fcr", "/console/flags", {"officer": facts["officer"]}),
        ("flags, last 30 days", "fcr", "/console/flags",
         {"from": (datetime.now(UTC) - timedelta(days=30)).date().isoformat()}),
        ("flag detail", "fcr", f"/console/flags/{flag['flag_id']}", {}),
        ("compliance (12 weeks)", "auditor", "/console/compliance", {}),
        ("audits", "auditor", "/console/audits", {}),
        ("audit", "auditor", f"/console/audits/{facts['audit_id']}", {}),
    ]  # fmt: skip


def service_calls(facts: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(name, service, role, path, params) of the calls the pages make."""
    flag, end = facts["flag"], datetime.now(UTC).replace(microsecond=0)
    period = {"from": (end - timedelta(days=84)).isoformat(), "to": end.isoformat()}
    week = {"from": (end - timedelta(days=7)).isoformat(), "to": end.isoformat()}
    crn = flag["crime_reference"] or facts["crimes"][0]
    return [
        ("auditor /v1/flags?status=open", "auditor", "fcr", "/v1/flags", {"status": "open", "limit": 500}),
        ("auditor /v1/flags (50)", "auditor", "fcr", "/v1/flags", {"limit": 50}),
        ("auditor /v1/flags with total", "auditor", "fcr", "/v1/flags", {"limit": 50, "with_total": "true"}),
        ("auditor /v1/flags?offence_group", "auditor", "fcr", "/v1/flags", {"limit": 50, "offence_group": "Robbery"}),
        ("auditor /v1/flags?officer", "auditor", "fcr", "/v1/flags", {"limit": 50, "officer": facts["officer"]}),
        ("auditor /v1/flags/{id}", "auditor", "fcr", f"/v1/flags/{flag['flag_id']}", {}),
        ("auditor /v1/contacts/{id}", "auditor", "fcr", f"/v1/contacts/{flag['contact_id']}", {}),
        ("auditor /v1/stats/recording (12 weeks)", "auditor", "auditor", "/v1/stats/recording", period),
        ("auditor /v1/stats/recording (1 week)", "auditor", "auditor", "/v1/stats/recording", week),
        ("auditor /v1/stats/recording/weekly (12)", "auditor", "auditor", "/v1/stats/recording/weekly", period),
        ("auditor /v1/stats/cancellations", "auditor", "auditor", "/v1/stats/cancellations", period),
        ("auditor /v1/audits/{id}", "auditor", "auditor", f"/v1/audits/{facts['audit_id']}", {}),
        ("recorder /v1/pending", "recorder", "supervisor", "/v1/pending", {"limit": 500}),
        ("recorder /v1/screening/reviews", "recorder", "supervisor", "/v1/screening/reviews", {"limit": 500}),
        ("recorder /v1/crimes?contact_id", "recorder", "fcr", "/v1/crimes", {"contact_id": flag["contact_id"]}),
        ("recorder /v1/crimes/{crn}", "recorder", "fcr", f"/v1/crimes/{crn}", {}),
        ("recorder /v1/contacts/{id}/decision", "recorder", "fcr", f"/v1/contacts/{flag['contact_id']}/decision", {}),
        ("intake /v1/contacts/{id}", "intake", "fcr", f"/v1/contacts/{flag['contact_id']}", {}),
    ]


async def measure(urls: dict[str, str], keys: dict[str, str], facts: dict[str, Any], n: int) -> list[tuple]:
    """(what, p50, p95, max) of every page and call."""
    results = []
    browsers = {role: await console_client(urls["console"], keys[role]) for role in ("supervisor", "fcr", "auditor")}
    try:
        for name, role, path, params in console_pages(facts):
            results.append((f"console {name}", await timed(browsers[role], path, n, params=params)))
        async with httpx.AsyncClient(timeout=120) as client:
            for name, service, role, path, params in service_calls(facts):
                headers = {"Authorization": f"Bearer {keys[role]}"}
                ms = await timed(client, urls[service] + path, n, params=params, headers=headers)
                results.append((name, ms))
    finally:
        for browser in browsers.values():
            await browser.aclose()
    return [(name, *percentiles(ms)) for name, ms in results]


def percentiles(ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], ordered[-1]


def show(rows: list[tuple], header: str) -> None:
    table = Table(title=header)
    for column in ("page or call", "p50 ms", "p95 ms", "max ms", f"≤ {TARGET_MS} ms"):
        table.add_column(column, justify="left" if column == "page or call" else "right")
    for name, p50, p95, top in rows:
        table.add_row(name, f"{p50:.0f}", f"{p95:.0f}", f"{top:.0f}", "yes" if p95 <= TARGET_MS else "NO")
    console.print(table)


def replay(engines: Any, dsn: str, n: int, days: float) -> None:
    """Seeds intake and fills the contacts topic."""
    started = time.perf_counter()
    events, rows = generated(n, days)
    asyncio.run(seed_intake(dsn, rows))
    asyncio.run(fill_topic(engines.kafka_bootstrap, engines.topic_prefix + topics.CONTACTS, events,
                           engines.kafka_enable_idempotence))  # fmt: skip
    console.print(f"generated {n:,} contacts, seeded intake, filled the topic in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=100)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--cancellations", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        dsn = asyncpg_dsn(make_url(engines.database_url.get_secret_value()))
        keys = asyncio.run(stack.issue_keys(engines, force="GMP", roles=stack.DEMO_ROLES, label="bench"))
        replay(engines, dsn, args.contacts, args.days)
        env = engine_env(engines) | {f"CRIMEREC_{s.upper()}_LOG_LEVEL": "WARNING" for s in stack.PROCESSES}
        env |= {"CRIMEREC_SIMULATED_CLOCK": "true", "CRIMEREC_AUDITOR_CLOCK": "event_time"}
        services = ["intake", "recorder", "auditor"]
        with services_running(services, env, Path(tmp)) as urls:
            started = time.perf_counter()
            decided = "SELECT count(*) FROM recorder.decisions"
            asyncio.run(wait_for_rows(dsn, decided, args.contacts, description="recorder deciding", procs=[],
                                      who="recorder", console=console))  # fmt: skip
            asyncio.run(caught_up(urls["auditor"], keys["auditor"]))
            console.print(f"decided, recorded and audited in {time.perf_counter() - started:.0f} s")
            facts = asyncio.run(people_act(urls, keys, args.cancellations))
            asyncio.run(caught_up(urls["auditor"], keys["auditor"]))
            console_env = env | {f"CRIMEREC_CONSOLE_{s.upper()}_PORT": urls[s].rsplit(":", 1)[1] for s in services}
            console_env["CRIMEREC_CONSOLE_UPSTREAM_TIMEOUT_SECONDS"] = "120"  # time a slow page, do not refuse it
            port = free_port()
            proc = start("console", port, console_env, Path(tmp) / "console.log")
            try:
                urls["console"] = f"http://127.0.0.1:{port}"
                wait_ready(urls["console"])
                counts = asyncio.run(store_counts(dsn))
                facts |= asyncio.run(facts_for_timing(urls, keys))
                rows = asyncio.run(measure(urls, keys, facts, args.requests))
            except SystemExit:
                for log in sorted(Path(tmp).glob("*.log")):
                    console.print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-25:], sep="\n")
                raise
            finally:
                proc.terminate()
                proc.wait()
    console.print(", ".join(f"{name}: {value:,}" for name, value in counts.items()))
    show(rows, f"console at {args.contacts:,} contacts: {args.requests} requests each, one at a time")


async def store_counts(dsn: str) -> dict[str, int]:
    """How much is in the store the pages read."""
    conn = await asyncpg.connect(dsn)
    try:
        rules = await conn.fetch("SELECT rule, count(*) FROM auditor.flags GROUP BY rule ORDER BY 2 DESC")
        return {f"flags {r['rule']}": int(r["count"]) for r in rules} | {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 (fixed names)
            for table in ("intake.contacts", "recorder.decisions", "recorder.crimes", "auditor.contacts",
                          "auditor.crimes", "auditor.flags", "auditor.removals", "auditor.alert_stream")
        }  # fmt: skip
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
