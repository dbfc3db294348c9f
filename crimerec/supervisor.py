"""`crimerec up`: engines, migrations, keys and the three services as supervised processes.

Whatever it started is restarted when it dies, at any moment: a service with backoff; the broker re-seeded from the
outboxes with the services restarted around it; the database. processes.json in the state folder names every process
it started, so the next `crimerec up` stops what a killed supervisor left; on Linux they also die with it.
"""

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
from rich.console import Console

from crimerec import stack, welcome
from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres
from crimerec.processes import ProcessBook, die_with_parent, in_fresh_thread, reclaim_orphans, wait_port_free
from crimerec.restarts import GIVE_UP_AFTER_S, Child, Failures, GiveUp, now
from services.runtime import broker_identity
from services.runtime.settings import EngineSettings

DEMO_FORCE = "GMP"
BROKER_CHECK_EVERY_S = 10.0


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
    give_up_after: float = GIVE_UP_AFTER_S
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False
    engines: EngineSettings | None = None
    broker_failures: Failures = field(default_factory=Failures)
    _engine_started: dict[str, float] = field(default_factory=dict)
    database_failures: Failures = field(default_factory=Failures)

    # ------------------------------------------------------------------------------------------------ lifecycle

    def run(self, *, demo: bool, feed: bool) -> int:
        """Starts everything, supervises it until Ctrl-C (or SIGTERM), then stops everything; 1 if it gave up."""
        # Both signals stop everything, even when `up` was started in the background (where SIGINT is inherited
        # as ignored).
        signal.signal(signal.SIGTERM, lambda *_: self._interrupt())
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.book = ProcessBook(self.data_dir)
        try:
            self.claim_folder()
            engines = self.start_engines()
            self.start_services(self.child_env(engines))
            keys = self.demo_keys(engines)
            self.wait_ready()
            self.banner(keys)
            if demo:
                self.post_demo_contacts(keys)
            self.watch(feed=feed)
        except KeyboardInterrupt:
            pass
        except (GiveUp, RuntimeError) as exc:
            self.console.print(f"[red]{exc}")
            return 1
        finally:
            self.stop()
        return 0

    def _interrupt(self) -> None:
        raise KeyboardInterrupt

    def claim_folder(self) -> None:
        """Makes the state folder ours: stops what a killed supervisor left running there, records ourselves."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        # The database is reclaimed (reused) rather than stopped: it keeps its data, and its crash recovery
        # is its own. Everything else is stopped and started again.
        for record in reclaim_orphans(self.book, keep=frozenset({"postgres"})):
            self.console.print(f"[yellow]stopped {record.role} (pid {record.pid}) left running by a killed supervisor")
        self.book.note("supervisor", os.getpid())

    def start_engines(self) -> EngineSettings:
        """Starts the embedded engines that no URL was given for; migrates; creates and (re-)seeds the topics."""
        if self.database_url:
            url = self.database_url
            self.console.print(f"PostgreSQL: external ({welcome.redact(url)})")
        else:
            self.postgres = EmbeddedPostgres(self.data_dir)
            with self.console.status("starting embedded PostgreSQL…"):
                url = self.postgres.start()
            self.book.note("postgres", self.postgres.pid)
            self.console.print(f"PostgreSQL: embedded, data in {self.data_dir / 'postgres'}")
        if self.kafka_bootstrap:
            bootstrap = self.kafka_bootstrap
            self.console.print(f"Kafka: external ({bootstrap})")
        else:
            self.kafka = EmbeddedKafka(self.data_dir, port=self.kafka_port, die_with_parent=True)
            wait_port_free(self.kafka.host, self.kafka_port)  # a reclaimed broker may take a moment to let go
            with self.console.status("starting embedded Kafka-protocol broker (Tansu)…"):
                bootstrap = self.kafka.start()
            self.book.note("broker", self.kafka.pid)
            self.console.print(
                f"Kafka: embedded Tansu broker on {bootstrap} (memory: its log is re-seeded from the outboxes)"
            )
        self.engines = EngineSettings(
            database_url=url,
            kafka_bootstrap=bootstrap,
            kafka_enable_idempotence=False if self.kafka else EngineSettings().kafka_enable_idempotence,
        )
        with self.console.status("migrating…"):
            stack.migrate_all(url)
        self.seed_broker(new=self.kafka is not None or self._broker_lost_log() is not None)
        return self.engines

    def seed_broker(self, *, new: bool, remember: bool = True) -> None:
        """Creates the topics; a broker that is new (embedded, or found to have lost its log) gets every retained
        outbox row again. The consumers' inboxes make the replay harmless."""
        assert self.engines is not None
        engines = self.engines
        republished = in_fresh_thread(lambda: stack.prepare_broker(engines, republish=new))
        if republished:
            self.console.print(f"re-seeded the broker with {republished} retained events not yet handled by all")
        if remember:
            self._remember_broker()

    def _remember_broker(self) -> None:
        assert self.engines is not None
        engines, path = self.engines, self.data_dir / "broker.json"
        with contextlib.suppress(Exception):  # a broker away now is looked at again at the next check
            in_fresh_thread(lambda: broker_identity.remember(engines, path))

    def _broker_lost_log(self) -> str | None:
        """Why the broker has lost the log it had at our last look (None: it has not, or it cannot be asked)."""
        assert self.engines is not None
        engines, path = self.engines, self.data_dir / "broker.json"
        try:
            return in_fresh_thread(lambda: broker_identity.lost_since_last_look(engines, path))
        except Exception:
            return None

    def child_env(self, engines: EngineSettings) -> dict[str, str]:
        """The environment each service process gets: the engines, and where to listen."""
        env = dict(os.environ)
        env.update(
            CRIMEREC_DATABASE_URL=engines.database_url.get_secret_value(),
            CRIMEREC_KAFKA_BOOTSTRAP=engines.kafka_bootstrap,
            CRIMEREC_KAFKA_ENABLE_IDEMPOTENCE=str(engines.kafka_enable_idempotence).lower(),
        )
        if self.kafka is not None:
            # A SIGKILLed consumer never leaves its group: its partitions wait until its session expires. On one
            # machine a short session brings a restarted service back to work in seconds (unless set already).
            env.setdefault("CRIMEREC_KAFKA_SESSION_TIMEOUT_MS", "3000")
            env.setdefault("CRIMEREC_KAFKA_HEARTBEAT_INTERVAL_MS", "600")
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

    def _log_of(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def _spawn(self, child: Child) -> None:
        # Spawned from the main thread only: the parent-death signal follows the thread that forked.
        log = open(self._log_of(child.name), "ab")  # noqa: SIM115 - the child owns it
        child.process = subprocess.Popen(
            [sys.executable, "-m", "crimerec", "serve", child.name],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        child.started_at = now()
        log.close()
        self.book.note(child.name, child.process.pid)
        self._write_state()

    def _write_state(self) -> None:
        pids = {name: c.process.pid if c.process else None for name, c in self.children.items()}
        welcome.write_services_file(self.data_dir, host=self.host, ports=self.ports, pids=pids)

    def wait_ready(self, timeout: float = 90) -> None:
        """Waits until every service answers /readyz, restarting any that dies meanwhile."""
        deadline = time.monotonic() + timeout
        waiting = dict(self.children)
        with self.console.status("waiting for the services…"):
            while waiting:
                self.supervise()
                for name, child in list(waiting.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"http://{self.host}:{child.port}/readyz", timeout=2).status_code == 200:
                            del waiting[name]
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(waiting)
                    raise RuntimeError(f"{names} not ready after {timeout:.0f} s; see {self.data_dir / 'logs'}")
                time.sleep(0.3)

    def demo_keys(self, engines: EngineSettings) -> dict[str, str]:
        """The demo keys for force GMP: issued on first start, read back afterwards."""
        return welcome.demo_keys(self.data_dir, engines, force=DEMO_FORCE)

    def banner(self, keys: dict[str, str]) -> None:
        """Tells the user where everything is and how to try it."""
        ports = {name: child.port for name, child in self.children.items()}
        welcome.print_banner(self.console, host=self.host, ports=ports, keys=keys, data_dir=self.data_dir)

    def post_demo_contacts(self, keys: dict[str, str]) -> None:
        """Posts the sample contacts shipped with crimerec, received just now."""
        welcome.post_demo_contacts(self.console, f"http://{self.host}:{self.ports['intake']}", keys)

    # ------------------------------------------------------------------------------------------------ supervision

    def supervise(self) -> None:
        """One look at everything this supervisor started: restarts what died (or raises GiveUp)."""
        if self.postgres is not None and self.postgres.pid is None:
            self.recover_database()
        if self.kafka is not None and not self.kafka.is_running():
            self.recover_broker(f"exited ({self.kafka.exit_code()})")
        for child in self.children.values():
            self._supervise_child(child)

    def _supervise_child(self, child: Child) -> None:
        assert child.failures is not None
        code = child.exited()
        if code is None:
            return
        if child.failures.next_start is None:
            try:
                delay = child.failures.died(
                    code=code, started_at=child.started_at, now=now(), give_up_after=self.give_up_after
                )
            except GiveUp as exc:
                raise GiveUp(child.give_up_message(exc, self._log_of(child.name))) from None
            self.console.print(f"[red]{child.name} exited ({code}); restarting in {delay:.1f} s")
        elif child.failures.due(now()):
            child.failures.next_start = None
            child.restarts += 1
            self._spawn(child)
            self.console.print(f"restarted {child.name} (restart {child.restarts}, pid {child.process.pid})")  # type: ignore[union-attr]

    def _halt_services(self, *, messaging_only: bool = False) -> list[Child]:
        """Stops every service (or those with an outbox) at once by SIGKILL, for a restart of what they use. They are
        crash-safe (the chaos run proves it), a graceful stop against a dead broker hangs in its producer's flush,
        and a relay killed now can publish nothing more from a batch it held. Returns those it stopped."""
        halted = [c for c in self.children.values() if not messaging_only or stack.PROCESSES[c.name].outbox is not None]
        for child in halted:
            if child.process and child.process.poll() is None:
                child.process.kill()
        for child in halted:
            if child.process:
                child.process.wait()
        return halted

    def _restart_services(self, children: list[Child] | None = None) -> None:
        for child in self.children.values() if children is None else children:
            assert child.failures is not None
            child.failures.next_start = None
            child.restarts += 1
            self._spawn(child)

    def recover_broker(self, reason: str) -> None:
        """Brings back a broker that lost its log: the services killed, the broker restarted (embedded), its topics
        re-seeded from the outboxes with what some group has not handled, the services started again."""
        started = now()
        self.console.print(f"[red]broker {reason}: restarting it, re-seeding it from the outboxes, and the services")
        # The services go first: a relay holding a row the lost broker acknowledged must not mark it published
        # after the re-seed has reset it (it would then be on neither broker), nor land an old batch on the new one.
        killed, halted = self._halt_services(messaging_only=True), now()  # the console uses no broker: it stays
        while True:
            self._wait_before_restart("broker", self.broker_failures)
            try:
                if self.kafka is not None:
                    self.kafka.stop()  # reaps the dead one
                    wait_port_free(self.kafka.host, self.kafka_port)
                    self.kafka.start()
                    self.book.note("broker", self.kafka.pid)
                broker_up = now()
                self.seed_broker(new=True, remember=False)
                break
            except Exception as exc:
                self.console.print(f"[red]broker not back yet: {exc}")
        self._engine_started["broker"] = seeded = now()
        self._restart_services(killed)
        self._remember_broker()  # while the services start
        self.console.print(
            f"broker back after {seeded - started:.1f} s (services killed {halted - started:.1f} s, broker up"
            f" {broker_up - halted:.1f} s, re-seeded {seeded - broker_up:.1f} s); services restarted"
        )

    def recover_database(self) -> None:
        """Restarts a stopped embedded PostgreSQL; the services retry their transactions meanwhile."""
        assert self.postgres is not None and self.engines is not None
        started = now()
        self.console.print("[red]PostgreSQL stopped; restarting it (the services retry meanwhile)")
        while True:
            self._wait_before_restart("database", self.database_failures)
            try:
                url = self.postgres.start()
                break
            except Exception as exc:
                self.console.print(f"[red]PostgreSQL not back yet: {exc}")
        self._engine_started["database"] = now()
        self.book.note("postgres", self.postgres.pid)
        if url != self.engines.database_url.get_secret_value():  # another socket: the services need the new URL
            self.engines = self.engines.model_copy(update={"database_url": url})
            self._env = self.child_env(self.engines)
            self._halt_services()
            self._restart_services()
        self.console.print(f"PostgreSQL back after {now() - started:.1f} s")

    def _wait_before_restart(self, name: str, failures: Failures) -> None:
        try:
            delay = failures.died(
                code=None, started_at=self._engine_started.get(name, 0.0), now=now(), give_up_after=self.give_up_after
            )
        except GiveUp as exc:
            raise GiveUp(f"the {name} {exc}; stopping everything (see {self.data_dir})") from None
        time.sleep(delay)

    def watch(self, *, feed: bool) -> None:
        """Until Ctrl-C: restarts whatever dies, and prints decisions as they are made."""
        asyncio.run(self._watch(feed))

    async def _watch(self, feed: bool) -> None:
        from crimerec.feed import print_decisions

        assert self.engines is not None
        feeder = asyncio.create_task(print_decisions(self.engines, self.console)) if feed else None
        next_check = now() + BROKER_CHECK_EVERY_S
        try:
            while not self.stopping:
                self.supervise()
                if self.kafka is None and now() >= next_check:
                    # An external broker may lose data on its own (a deleted topic, an unclean leader election).
                    why = self._broker_lost_log()
                    if why is not None:
                        self.recover_broker(f"lost its log ({why})")
                    next_check = now() + BROKER_CHECK_EVERY_S
                await asyncio.sleep(0.2)
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
        if hasattr(self, "book"):
            self.book.clear()
        self.console.print("stopped")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
