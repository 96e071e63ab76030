"""Admin reload across every worker of one replica: a generation counter in a folder they share.

``python -m service --workers N`` (N > 1) makes a fresh folder for each launch and hands it to its
workers in ``ODESERVE_RELOAD_SIGNAL_DIR`` (:func:`prepare_reload_dir`, before uvicorn starts them).
In it:

- ``generation``: how many admin reloads this replica has had (a decimal number, replaced
  atomically, bumped under an exclusive lock on ``generation.lock``);
- ``worker-<pid>``: the generation that worker has applied: written when it starts serving and
  after each refresh for a new generation, removed when it stops.

``POST /v1/admin/reload`` bumps the generation, refreshes its own worker, then waits (at most
:data:`ACK_TIMEOUT_S`) until every live worker has written that generation. Every worker's poller
stats ``generation`` every :data:`WATCH_INTERVAL_S` seconds, store polling on or off, and runs the
same full refresh when it moves. A worker whose process is gone is never waited for. One worker
has no folder and no signal: the reload refreshes the only worker there is.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from service.telemetry.multiprocess import process_alive

ENV = "ODESERVE_RELOAD_SIGNAL_DIR"
WATCH_INTERVAL_S = 0.25
"""How often each worker stats the generation file."""
ACK_TIMEOUT_S = 5.0
"""How long an admin reload waits, after its own refresh, for the other workers to apply it."""

_GENERATION = "generation"
_LOCK = "generation.lock"
_WORKER = re.compile(r"worker-(\d+)")
_ACK_POLL_S = 0.05


def prepare_reload_dir(workers: int) -> Path | None:
    """The launcher's part: a fresh shared folder for ``workers > 1`` (removed at exit), in the
    environment its workers inherit; none for one worker (and any inherited setting dropped)."""
    if workers == 1:
        os.environ.pop(ENV, None)
        return None
    path = Path(tempfile.mkdtemp(prefix="odeserve-reload-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[ENV] = str(path)
    return path


@dataclass(frozen=True)
class WorkerAcks:
    """How many live workers of this replica there are, and how many have applied a generation."""

    live: int
    applied: int


class ReloadSignal:
    """One worker's end of the shared folder (built in the worker: it records this process's pid)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid = os.getpid()
        self._lock = threading.Lock()  # the admin route (a thread) and the watcher (the loop) share:
        self._handled = 0  # the highest generation this worker has refreshed for, or is refreshing for
        self._acked = 0
        self._stamp: tuple[int, int, int] | None = None  # the generation file as last seen

    @classmethod
    def from_environment(cls) -> ReloadSignal | None:
        configured = os.environ.get(ENV)
        return cls(Path(configured)) if configured else None

    def current(self) -> int:
        """The replica's generation now (0 before its first admin reload)."""
        try:
            return int((self.folder / _GENERATION).read_text())
        except FileNotFoundError:
            return 0

    def join(self) -> int:
        """Call before this worker's first refresh: the generation that refresh covers."""
        self._stamp = self._stat()
        generation = self.current()
        with self._lock:
            self._handled = max(self._handled, generation)
        return generation

    def bump(self) -> int:
        """An admin reload: the next generation, which this worker then applies itself."""
        with (self.folder / _LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            generation = self.current() + 1
            with self._lock:  # claimed before it is visible: this worker's watcher leaves it alone
                self._handled = max(self._handled, generation)
            self._write(_GENERATION, generation)
        return generation

    def pending(self) -> int | None:
        """A cheap check (one stat): a newer generation to apply, now claimed by the caller, or None."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        generation = self.current()
        with self._lock:
            if generation <= self._handled:
                return None
            self._handled = generation
        return generation

    def acknowledge(self, generation: int) -> None:
        """Tell the other workers this one has applied ``generation`` (and is alive)."""
        with self._lock:
            self._acked = max(self._acked, generation)
            self._write(f"worker-{self.pid}", self._acked)

    def leave(self) -> None:
        """This worker stops: nobody should wait for it any more."""
        (self.folder / f"worker-{self.pid}").unlink(missing_ok=True)

    def acks(self, generation: int) -> WorkerAcks:
        """The live workers (those with a file and a running process), and how many have applied
        ``generation``. The files of workers that died are deleted."""
        live = applied = 0
        for entry in os.scandir(self.folder):
            match = _WORKER.fullmatch(entry.name)
            if match is None:
                continue
            if not process_alive(int(match.group(1))):
                Path(entry.path).unlink(missing_ok=True)
                continue
            try:
                acked = int(Path(entry.path).read_text())
            except (FileNotFoundError, ValueError):  # it stopped meanwhile
                continue
            live += 1
            applied += acked >= generation
        return WorkerAcks(live, applied)

    async def wait_applied(self, generation: int, timeout_s: float = ACK_TIMEOUT_S) -> WorkerAcks:
        """Wait until every live worker has applied ``generation``, or ``timeout_s`` has passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            acks = self.acks(generation)
            if acks.applied >= acks.live or time.monotonic() >= deadline:
                return acks
            await anyio.sleep(_ACK_POLL_S)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = (self.folder / _GENERATION).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _write(self, name: str, value: int) -> None:
        """Replace ``name`` in one step: a reader sees the old number or the new one, never half."""
        tmp = self.folder / f".{name}.{self.pid}.{threading.get_ident()}.tmp"
        tmp.write_text(str(value))
        os.replace(tmp, self.folder / name)
