"""The processes `crimerec up` starts: ports, logs, a parent-death signal, and the state folder's record of them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

_T = TypeVar("_T")

PROCESSES_FILE = "processes.json"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that is free right now (the OS picks it; someone may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
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


def in_fresh_thread(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion on a new event loop in a worker thread and return its result."""
    # A worker thread with its own loop works the same from plain sync code and from inside a running event
    # loop (where asyncio.run would refuse), so start() can be called from the CLI, fixtures and async code.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="crimerec-embedded") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, or a note when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when the process that spawned it dies (Linux only).

    The kernel sends it when the spawning *thread* exits, so spawn from a thread that lives as long as the
    supervisor (its main thread). None elsewhere: there, the next `crimerec up` reclaims the orphans instead."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class ProcessRecord:
    """One process the supervisor started: enough to know it again (a pid alone may have been reused)."""

    role: str
    pid: int
    create_time: float
    cmdline: list[str]

    @classmethod
    def of(cls, role: str, pid: int) -> ProcessRecord | None:
        """The record of a live process, or None when it is already gone."""
        try:
            proc = psutil.Process(pid)
            return cls(role=role, pid=pid, create_time=proc.create_time(), cmdline=proc.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return None

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None when it died (or its pid now belongs to another)."""
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            if abs(proc.create_time() - self.create_time) > 0.05 or proc.cmdline() != self.cmdline:
                return None
            return proc
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return None


class ProcessBook:
    """The state folder's record of every process `crimerec up` started (processes.json), kept current."""

    def __init__(self, data_dir: Path) -> None:
        """Bind to a state folder; nothing is read until asked."""
        self.path = Path(data_dir) / PROCESSES_FILE
        self.records: dict[str, ProcessRecord] = {}

    def load(self) -> dict[str, ProcessRecord]:
        """The records a previous supervisor left (empty when none, or unreadable after a crash mid-write)."""
        try:
            raw = json.loads(self.path.read_text())
            return {role: ProcessRecord(**fields) for role, fields in raw.items()}
        except (OSError, ValueError, TypeError):
            return {}

    def note(self, role: str, pid: int | None) -> None:
        """Records (or forgets, with None) the process now playing `role`, and writes the file."""
        record = ProcessRecord.of(role, pid) if pid else None
        if record is None:
            self.records.pop(role, None)
        else:
            self.records[role] = record
        self._write()

    def _write(self) -> None:
        # Written whole, then moved into place, so a reader never sees half a file.
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({role: asdict(r) for role, r in self.records.items()}, indent=2))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        """Forgets every process (after a clean stop)."""
        self.records.clear()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def stop_process(proc: psutil.Process, *, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; also its process group when it leads one."""
    with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
        leads_group = os.getpgid(proc.pid) == proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if leads_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            try:
                proc.wait(grace)
                return
            except psutil.TimeoutExpired:
                continue


def reclaim_orphans(book: ProcessBook, *, keep: frozenset[str] = frozenset()) -> list[ProcessRecord]:
    """Stops what a previous supervisor of this folder started and left running; returns what it stopped.

    Raises RuntimeError when that supervisor itself still runs: two supervisors must never share a folder."""
    previous = book.load()
    boss = previous.get("supervisor")
    if boss is not None and boss.pid != os.getpid() and boss.process() is not None:
        raise RuntimeError(f"another `crimerec up` (pid {boss.pid}) runs on {book.path.parent}; stop it first")
    stopped = []
    for role, record in previous.items():
        if role == "supervisor" or role in keep:
            continue
        proc = record.process()
        if proc is not None:
            stop_process(proc)
            stopped.append(record)
    book.clear()
    return stopped


def wait_port_free(host: str, port: int, timeout: float = 10.0) -> bool:
    """Waits until nothing listens on `host:port`; False if something still does after `timeout`."""
    deadline = time.monotonic() + timeout
    while port_in_use(host, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
