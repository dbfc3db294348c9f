"""`crimerec up`: engines, migrations, keys and the three services as supervised processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from crimerec import stack
from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres
from services.runtime.settings import EngineSettings

DEMO_FORCE = "GMP"


@dataclass
class Child:
    """One service process and how often it has been restarted."""

    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0


@dataclass
class Stack:
    """The whole system on one machine, started and stopped together."""

    data_dir: Path
    database_url: str | None
    kafka_bootstrap: str | None
    host: str
    ports: dict[str, int]
    kafka_port: int
    console: Console
    simulation: bool = False
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False

    # ------------------------------------------------------------------------------------------------ lifecycle

    def run(self, *, demo: bool, feed: bool) -> None:
        """Starts everything, waits for Ctrl-C (or SIGTERM), then stops everything cleanly."""
        # Both signals stop everything, even when `up` was started in the background (where SIGINT is inherited
        # as ignored).
        signal.signal(signal.SIGTERM, lambda *_: self._interrupt())
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            engines = self.start_engines()
            env = self.child_env(engines)
            self.start_services(env)
            keys = self.demo_keys(engines)
            self.wait_ready()
            self.banner(keys)
            if demo:
                self.post_demo_contacts(keys)
            self.watch(engines, feed=feed)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _interrupt(self) -> None:
        raise KeyboardInterrupt

    def start_engines(self) -> EngineSettings:
        """Starts the embedded engines that no URL was given for; migrates; creates and (re-)seeds the topics."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        if self.database_url:
            url = self.database_url
            self.console.print(f"PostgreSQL: external ({_redact(url)})")
        else:
            self.postgres = EmbeddedPostgres(self.data_dir)
            with self.console.status("starting embedded PostgreSQL…"):
                url = self.postgres.start()
            self.console.print(f"PostgreSQL: embedded, data in {self.data_dir / 'postgres'}")
        embedded_kafka = not self.kafka_bootstrap
        if self.kafka_bootstrap:
            bootstrap = self.kafka_bootstrap
            self.console.print(f"Kafka: external ({bootstrap})")
        else:
            self.kafka = EmbeddedKafka(self.data_dir, port=self.kafka_port)
            with self.console.status("starting embedded Kafka-protocol broker (Tansu)…"):
                bootstrap = self.kafka.start()
            self.console.print(
                f"Kafka: embedded Tansu broker on {bootstrap} (memory: its log is re-seeded from the outboxes)"
            )
        engines = EngineSettings(
            database_url=url,  # type: ignore[arg-type]
            kafka_bootstrap=bootstrap,
            kafka_enable_idempotence=False if embedded_kafka else EngineSettings().kafka_enable_idempotence,
        )
        with self.console.status("migrating…"):
            stack.migrate_all(engines.database_url.get_secret_value())
        # The embedded broker forgets everything when it stops: publish every retained outbox row again.
        # Consumers' inboxes make the replay harmless.
        republished = asyncio.run(stack.prepare_broker(engines, republish=embedded_kafka))
        if republished:
            self.console.print(f"re-seeded the broker with {republished} retained events")
        return engines

    def child_env(self, engines: EngineSettings) -> dict[str, str]:
        """The environment each service process gets: the engines, and where to listen."""
        env = dict(os.environ)
        env.update(
            CRIMEREC_DATABASE_URL=engines.database_url.get_secret_value(),
            CRIMEREC_KAFKA_BOOTSTRAP=engines.kafka_bootstrap,
            CRIMEREC_KAFKA_ENABLE_IDEMPOTENCE=str(engines.kafka_enable_idempotence).lower(),
        )
        if self.simulation:
            env.update(
                CRIMEREC_SIMULATED_CLOCK="true",
                CRIMEREC_AUDITOR_CLOCK="event_time",
                CRIMEREC_RECORDER_AUTHORITY='{"mode": "audit"}',
            )
        for name, port in self.ports.items():
            env[f"CRIMEREC_{name.upper()}_PORT"] = str(port)
            env[f"CRIMEREC_{name.upper()}_HOST"] = self.host
        return env

    def start_services(self, env: dict[str, str]) -> None:
        """Starts intake, recorder and auditor, each as its own process."""
        self._env = env
        for name, port in self.ports.items():
            self.children[name] = Child(name, port)
            self._spawn(self.children[name])
        self._write_state()

    def _spawn(self, child: Child) -> None:
        log = open(self.data_dir / "logs" / f"{child.name}.log", "ab")  # noqa: SIM115 - the child owns it
        child.process = subprocess.Popen(
            [sys.executable, "-m", "crimerec", "serve", child.name],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
        )
        child.started_at = time.monotonic()
        log.close()

    def _write_state(self) -> None:
        state = {
            name: {"pid": c.process.pid if c.process else None, "url": f"http://{self.host}:{c.port}"}
            for name, c in self.children.items()
        }
        # Written whole, then moved into place, so a reader never sees half a file.
        path = self.data_dir / "services.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path)

    def wait_ready(self, timeout: float = 90) -> None:
        """Waits until every service answers /readyz."""
        deadline = time.monotonic() + timeout
        with self.console.status("waiting for the services…"):
            for child in self.children.values():
                url = f"http://{self.host}:{child.port}/readyz"
                while True:
                    if child.process and child.process.poll() is not None:
                        raise SystemExit(f"{child.name} exited; see {self.data_dir / 'logs' / (child.name + '.log')}")
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(url, timeout=2).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{child.name} not ready after {timeout:.0f} s; see its log")
                    time.sleep(0.3)

    def demo_keys(self, engines: EngineSettings) -> dict[str, str]:
        """The demo keys for force GMP: issued on first start, read back afterwards."""
        path = self.data_dir / "demo-keys.json"
        if path.exists():
            keys: dict[str, str] = json.loads(path.read_text())
            # The same data folder may now run on another database: keep only keys this database knows.
            if asyncio.run(stack.keys_known(engines, list(keys.values()))):
                return keys
        keys = asyncio.run(stack.issue_keys(engines, force=DEMO_FORCE, roles=stack.DEMO_ROLES, label="demo"))
        path.write_text(json.dumps(keys, indent=2))
        path.chmod(0o600)
        return keys

    def banner(self, keys: dict[str, str]) -> None:
        """Tells the user where everything is and how to try it."""
        table = Table(title="crimerec is running", show_lines=False)
        table.add_column("service")
        table.add_column("URL")
        table.add_column("API docs")
        for child in self.children.values():
            base = f"http://{self.host}:{child.port}"
            table.add_row(child.name, base, f"{base}/docs")
        self.console.print(table)
        keys_table = Table(title=f"demo API keys for {DEMO_FORCE} (also in {self.data_dir / 'demo-keys.json'})")
        keys_table.add_column("role")
        keys_table.add_column("key")
        for role, key in keys.items():
            keys_table.add_row(role, key)
        self.console.print(keys_table)
        intake = f"http://{self.host}:{self.ports['intake']}"
        self.console.print(
            "Try it:\n"
            f"  curl -s -X POST {intake}/v1/contacts -H 'Authorization: Bearer {keys['call_handler']}' \\\n"
            "       -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' -d @examples/assault.json\n"
            f"Logs: {self.data_dir / 'logs'}   Stop: Ctrl-C\n"
        )

    def post_demo_contacts(self, keys: dict[str, str]) -> None:
        """Posts the sample contacts shipped with crimerec, received just now."""
        from crimerec.demo import sample_contacts

        intake = f"http://{self.host}:{self.ports['intake']}"
        headers = {"Authorization": f"Bearer {keys['call_handler']}"}
        for i, contact in enumerate(sample_contacts(force=DEMO_FORCE)):
            response = httpx.post(
                f"{intake}/v1/contacts",
                json=contact,
                headers=headers | {"Idempotency-Key": f"demo-{contact['source']['reference']}"},
                timeout=10,
            )
            if response.status_code == 201:
                self.console.print(f"posted sample contact {i + 1}: {contact['narrative'][:70]}…")
            else:
                self.console.print(f"[yellow]sample contact {i + 1}: {response.status_code} {response.text[:200]}")

    def watch(self, engines: EngineSettings, *, feed: bool) -> None:
        """Until Ctrl-C: restarts any service that dies, and prints decisions as they are made."""
        asyncio.run(self._watch(engines, feed))

    async def _watch(self, engines: EngineSettings, feed: bool) -> None:
        from crimerec.feed import print_decisions

        feeder = asyncio.create_task(print_decisions(engines, self.console)) if feed else None
        try:
            while not self.stopping:
                for child in self.children.values():
                    if child.process is not None and child.process.poll() is not None:
                        code = child.process.returncode
                        self.console.print(f"[red]{child.name} exited ({code}); restarting")
                        child.restarts += 1
                        # A service that keeps crashing at start is not restarted in a hot loop.
                        await asyncio.sleep(min(2 ** min(child.restarts, 5), 30) if child.restarts > 1 else 0.5)
                        self._spawn(child)
                        self._write_state()
                await asyncio.sleep(0.5)
        finally:
            if feeder:
                feeder.cancel()
                with contextlib.suppress(BaseException):
                    await feeder

    def stop(self) -> None:
        """Stops the services (gracefully, then by force), then the embedded engines."""
        self.stopping = True
        # A second Ctrl-C or SIGTERM must not interrupt the shutdown and leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in self.children.values():
            if child.process and child.process.poll() is None:
                child.process.terminate()
        for child in self.children.values():
            if child.process:
                try:
                    child.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        if self.kafka:
            self.kafka.stop()
        if self.postgres:
            self.postgres.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "services.json").unlink()
        self.console.print("stopped")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
