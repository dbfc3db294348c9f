"""`crimerec up` after crashes, as a new user meets them: the supervisor SIGKILLed (its children go with it, and
`up` again on the same folder starts), a service killed while `up` still waits for it (restarted, not fatal), the
broker killed (restarted and re-seeded: contacts from before and after are both decided)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from crimerec.chaos.load import chaos_contact
from crimerec.chaos.stack_process import SERVICES, UpProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait(check, within: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not true in time"
        time.sleep(0.1)


async def _post(up: UpProcess, number: int) -> str:
    key = json.loads((up.data_dir / "demo-keys.json").read_text())["call_handler"]
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"crash-{number}"}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        body = chaos_contact("crash", number)
        response = await client.post(f"{up.url('intake')}/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["contact_id"])


async def _decided(up: UpProcess, contact_ids: list[str], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        conn = await asyncpg.connect(up.database_dsn())
        try:
            sql = "SELECT count(*) FROM recorder.decisions WHERE contact_id = ANY($1::uuid[])"
            if await conn.fetchval(sql, contact_ids) == len(contact_ids):
                return
        finally:
            await conn.close()
        assert time.monotonic() < deadline, "contacts not decided in time"
        await asyncio.sleep(0.5)


def test_up_comes_back_from_a_killed_supervisor_a_kill_at_start_up_and_a_killed_broker(tmp_path: Path) -> None:
    """Each crash ends with every service ready again and every acknowledged contact decided."""
    up = UpProcess(tmp_path / "stack")
    up.start()
    try:
        asyncio.run(up.wait_ready())
        first = asyncio.run(_post(up, 1))
        children = [up.live_pid(role) for role in (*SERVICES, "broker")]
        assert all(children)

        # 1. The supervisor alone is SIGKILLed: the broker and the services die with it (parent-death signal).
        up.kill("supervisor")
        _wait(lambda: all(_gone(pid) for pid in children if pid))

        # 2. `up` again on the same folder; a service killed while `up` still waits for it is restarted.
        up.start()
        _wait(lambda: up.live_pid("intake") not in (None, children[0]), within=60)
        up.kill("intake")
        asyncio.run(up.wait_ready())
        assert up.process is not None and up.process.poll() is None
        second = asyncio.run(_post(up, 2))
        asyncio.run(_decided(up, [first, second]))

        # 3. The broker is SIGKILLed (its log is lost): restarted, re-seeded, the services restarted around it.
        broker = up.live_pid("broker")
        up.kill("broker")
        _wait(lambda: up.live_pid("broker") not in (None, broker), within=60)
        asyncio.run(up.wait_ready())
        third = asyncio.run(_post(up, 3))
        asyncio.run(_decided(up, [first, second, third]))
        log = up.log_path.read_text()
        assert "broker exited (-9)" in log
        assert "intake exited (-9); restarting" in log
    finally:
        up.stop()
