"""`crimerec up` as the chaos run drives it: a process of its own, on free ports, in a state folder of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from crimerec.embedded import EmbeddedPostgres
from crimerec.processes import ProcessBook, ProcessRecord, free_port

SERVICES = ("intake", "recorder", "auditor")


@dataclass
class UpProcess:
    """One `crimerec up` on a state folder; start() again after kill() runs it again on the same folder."""

    data_dir: Path
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        """Free ports for the three services, the console and the broker, chosen once, kept across restarts."""
        for name in (*SERVICES, "console", "kafka"):
            self.ports.setdefault(name, free_port())

    @property
    def log_path(self) -> Path:
        """What `crimerec up` printed (every start appends)."""
        return self.data_dir / "up.log"

    def url(self, service: str) -> str:
        """A service's base URL."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self) -> None:
        """Runs `crimerec up` in the background (its own session, so its signals are its own)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "crimerec", "up", "--data-dir", str(self.data_dir), "--no-feed"]
        for name in (*SERVICES, "console"):
            args += [f"--{name}-port", str(self.ports[name])]
        args += ["--kafka-port", str(self.ports["kafka"])]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if self.kafka_bootstrap:
            args += ["--kafka-bootstrap", self.kafka_bootstrap]
        with open(self.log_path, "ab") as log:
            log.write(f"--- chaos: starting crimerec up at {time.ctime()}\n".encode())
            log.flush()
            # The engines are the run's flags alone: a URL in this environment must not slip in beside them.
            engines = ("CRIMEREC_DATABASE_URL", "CRIMEREC_KAFKA_BOOTSTRAP")
            env = {k: v for k, v in os.environ.items() if k not in engines}
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )

    def records(self) -> dict[str, ProcessRecord]:
        """The processes `up` says it started (processes.json)."""
        return ProcessBook(self.data_dir).load()

    def live_pid(self, role: str) -> int | None:
        """The pid now playing `role`, if that process is really alive (not a reused pid)."""
        record = self.records().get(role)
        return record.pid if record is not None and record.process() is not None else None

    def kill(self, role: str) -> int | None:
        """SIGKILLs the process playing `role` (as `up` recorded it); returns its pid, None if none ran."""
        if role == "supervisor" and self.process is not None:
            pid = self.process.pid
            os.kill(pid, signal.SIGKILL)
            self.process.wait()
            return pid
        record = self.records().get(role)
        proc = record.process() if record is not None else None
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        return int(proc.pid)

    def kill_everything(self) -> list[int]:
        """SIGKILLs `crimerec up` and, at once, everything it had started; returns their pids."""
        records = self.records()
        pids = [pid for pid in [self.kill("supervisor")] if pid]
        for role, record in records.items():
            proc = record.process() if role != "supervisor" else None
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                pids.append(proc.pid)
        return pids

    async def all_ready(self, client: httpx.AsyncClient) -> bool:
        """True when every service answers /readyz with 200."""
        for name in SERVICES:
            try:
                if (await client.get(f"{self.url(name)}/readyz", timeout=2)).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
        return True

    async def wait_ready(self, within_s: float = 120.0) -> None:
        """Waits until every service is ready, or raises naming the log."""
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(trust_env=False) as client:
            while not await self.all_ready(client):
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"crimerec up exited ({self.process.returncode}); see {self.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the stack was not ready within {within_s:.0f} s; see {self.log_path}")
                await asyncio.sleep(0.3)

    def database_dsn(self) -> str:
        """The database the stack runs on, as an asyncpg DSN."""
        from services.runtime.database import asyncpg_dsn

        url = self.database_url or EmbeddedPostgres(self.data_dir).server_url()
        return asyncpg_dsn(url)

    def stop(self) -> None:
        """Stops `crimerec up` (SIGTERM; it stops what it started), by force after a minute."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill_everything()
