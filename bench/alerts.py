"""Approval of a cancellation → the supervisor's alert, on an SSE stream and by webhook, under background load.

    .venv/bin/python bench/alerts.py [--cancellations 200] [--rate 20] [--background 200]

Runs intake, recorder and auditor as processes; records `--cancellations` violence crimes (each POST with
`Prefer: wait`, so the crime reference comes in the answer) and asks to cancel each; opens a supervisor's SSE stream
of HIGH_RISK_CANCELLATION alerts and a webhook subscription to a receiver in this process; then, while
`--background` contacts a second go to intake, approves the cancellations as a DDM at `--rate` a second. Prints p50
and p99 from each approval's response to its alert arriving on the stream and at the webhook (targets: p99 under
100 ms, p50 under 20 ms), and the background rate reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import bench_engines, engine_env, services_running
from _wire import Pool, request
from intake import contact_body

from crimerec import stack

console = Console(width=110)
RULE = "HIGH_RISK_CANCELLATION"


def violence() -> dict[str, object]:
    return {
        "force": "GMP",
        "source": {"system": "BENCH", "reference": uuid.uuid4().hex},
        "channel": "999",
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        "reporter": {"relationship": "victim"},
        "victims": [{"ref": "V1", "kind": "person", "identified": True, "confirmed": True}],
        "incident": {"category": "crime"},
        "offences": [{"victim_ref": "V1", "ho_class": "8N"}],
    }


async def cancellation_requests(client: httpx.AsyncClient, urls: dict[str, str], auth: dict[str, dict[str, str]],
                                n: int) -> list[tuple[str, str]]:  # fmt: skip
    """N violence crimes and a request to cancel each: (crime reference, request id)."""
    pairs = []
    for _ in range(n):
        r = await client.post(
            f"{urls['intake']}/v1/contacts", json=violence(),
            headers=auth["call_handler"] | {"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=30"},
        )  # fmt: skip
        [crn] = r.json()["crime_references"]
        c = await client.post(
            f"{urls['recorder']}/v1/crimes/{crn}/cancellation-requests",
            json={"code": "C4", "explanation": "Recorded against the wrong person.", "error": "wrong victim",
                  "victim_informed": False},
            headers=auth["officer"],
        )  # fmt: skip
        pairs.append((crn, c.json()["request_id"]))
    return pairs


async def sse(client: httpx.AsyncClient, url: str, auth: dict[str, str], arrived: dict[str, float]) -> None:
    """A supervisor's stream: when each crime's alert arrived."""
    async with client.stream("GET", f"{url}/v1/alerts/stream?rule={RULE}", headers=auth, timeout=None) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                body = json.loads(line[5:])
                if body.get("event") == "flag.raised" and body.get("crime_reference"):
                    arrived.setdefault(body["crime_reference"], time.perf_counter())


async def webhook_receiver(arrived: dict[str, float]) -> tuple[asyncio.Server, int]:
    """A loopback HTTP server taking the webhook's POSTs: when each crime's alert arrived."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length) or b"{}")
                seen = time.perf_counter()
                for alert in body if isinstance(body, list) else [body]:
                    crn = alert.get("crime_reference") or (alert.get("flag") or {}).get("crime_reference")
                    if crn:
                        arrived.setdefault(crn, seen)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def background(port: int, token: str, rate: float, stop: asyncio.Event) -> tuple[int, float]:
    """Contacts at `rate` a second until `stop`; (accepted, seconds)."""
    pool = await Pool(port, 32).open()
    accepted = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        nonlocal accepted
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        response = await pool.send(request("POST", port, "/v1/contacts", body=contact_body(), headers=headers))
        accepted += response.status == 201

    started = time.perf_counter()
    i = 0
    while not stop.is_set():
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    await asyncio.gather(*tasks)
    pool.close()
    return accepted, time.perf_counter() - started


async def measure(urls: dict[str, str], keys: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    on_stream: dict[str, float] = {}
    on_webhook: dict[str, float] = {}
    server, hook_port = await webhook_receiver(on_webhook)
    async with httpx.AsyncClient(timeout=60) as client:
        console.print(f"recording {args.cancellations} crimes and asking to cancel each…")
        pairs = await cancellation_requests(client, urls, auth, args.cancellations)
        r = await client.post(
            f"{urls['auditor']}/v1/subscriptions", headers=auth["supervisor"],
            json={"callback_url": f"http://127.0.0.1:{hook_port}/alerts", "rules": [RULE], "description": "bench"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        listener = asyncio.create_task(sse(client, urls["auditor"], auth["supervisor"], on_stream))
        stop = asyncio.Event()
        intake_port = int(urls["intake"].rsplit(":", 1)[1])
        load = asyncio.create_task(background(intake_port, keys["call_handler"], args.background, stop))
        await asyncio.sleep(2.0)  # the stream is open and the load steady before the first approval
        console.print(f"approving at {args.rate:g}/s under {args.background:g} contacts/s…")
        approved: dict[str, float] = {}
        started = time.perf_counter()
        for i, (crn, request_id) in enumerate(pairs):
            await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
            r = await client.post(
                f"{urls['recorder']}/v1/cancellation-requests/{request_id}/approval",
                json={"note": "agreed"}, headers=auth["ddm"],
            )  # fmt: skip
            approved[crn] = time.perf_counter()
            assert r.status_code == 200, r.text
        deadline = time.perf_counter() + 30
        # Two dicts filled by two tasks: a look every 0.1 s until both are full (arrival times are taken as they come).
        while time.perf_counter() < deadline and (len(on_stream) < len(pairs) or len(on_webhook) < len(pairs)):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        stop.set()
        accepted, seconds = await load
        listener.cancel()
    server.close()
    return {"approved": approved, "stream": on_stream, "webhook": on_webhook, "background": accepted / seconds}


def report(result: dict[str, object], n: int) -> None:
    approved: dict[str, float] = result["approved"]  # type: ignore[assignment]
    table = Table(title="approval → alert delivered (HIGH_RISK_CANCELLATION)")
    for column in ("channel", "delivered", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for channel in ("stream", "webhook"):
        arrived: dict[str, float] = result[channel]  # type: ignore[assignment]
        ms = sorted((arrived[c] - approved[c]) * 1000 for c in approved if c in arrived)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")
        table.add_row("SSE" if channel == "stream" else "webhook", f"{len(ms)} of {n}",
                      f"{statistics.median(ms) if ms else float('nan'):.1f}", f"{p99:.1f}",
                      f"{max(ms, default=float('nan')):.1f}")  # fmt: skip
    console.print(table)
    console.print(f"background load reached: {result['background']:.0f} contacts/s accepted by intake")
    console.print("targets: p99 < 100 ms, p50 < 20 ms at 200 contacts/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cancellations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="approvals a second")
    parser.add_argument("--background", type=float, default=200.0, help="contacts a second meanwhile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_engines(Path(tmp)) as engines:
        keys = asyncio.run(stack.issue_keys(engines, force="GMP", roles=stack.DEMO_ROLES, label="bench"))
        env = engine_env(engines) | {f"CRIMEREC_{s.upper()}_LOG_LEVEL": "WARNING" for s in stack.SERVICES}
        # The webhook receiver is this process, on loopback over plain http: allow-listed for this run only.
        env |= {
            "CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
            "CRIMEREC_AUDITOR_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "CRIMEREC_AUDITOR_WEBHOOK_ALLOW_HTTP": "true",
        }
        with services_running(stack.SERVICES, env, Path(tmp)) as urls:
            result = asyncio.run(measure(urls, keys, args))
    report(result, args.cancellations)


if __name__ == "__main__":
    main()
