"""One child process of the fleet: started in its own session, output appended to a log file.

Its own session: a Ctrl-C in the terminal reaches the launcher only, which then stops the
children in order (a draining replica must not get the SIGINT as well).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


class ProcessExited(RuntimeError):
    """The process ended while we waited for it to come up."""


class ManagedProcess:
    """A command that can be started again after it stopped (same argv, env and log)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path) -> None:
        self.name, self.argv, self.env, self.log, self.cwd = name, list(argv), dict(env), log, cwd
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def send(self, sig: signal.Signals) -> None:
        if self.running:
            assert self._process is not None
            self._process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the exit; SIGKILL if it has not come within ``timeout``. The exit status."""
        assert self._process is not None, f"{self.name} was never started"
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status (None if never started)."""
        if self._process is None:
            return None
        self.send(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL now, and reap it."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def tail(self, lines: int = 30) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def wait_http(self, url: str, timeout: float, status: int = 200) -> None:
        """Poll ``url`` until it answers ``status``; raise if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ProcessExited(f"{self.name} exited with {self.returncode}:\n{self.tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == status:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name}: {url} did not answer {status} within {timeout} s:\n{self.tail()}"
                )
            time.sleep(0.1)
