"""Drive wrk (the Debian package) with ``post.lua`` and read back the JSON line its ``done()`` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from .cpu import pinned

SCRIPT = Path(__file__).resolve().parent / "post.lua"
BODY = '{"inputs": [[0.5, -0.2]]}'
_MARKER = "WRK_JSON "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class LoadSettings:
    """How one wrk run loads a server."""

    connections: int
    duration_s: int  # wrk takes whole seconds
    threads: int = 1
    timeout_s: float = 10.0
    pin_core: int | None = None  # taskset wrk onto this core

    def command(self, url: str) -> list[str]:
        threads = max(1, min(self.threads, self.connections))  # wrk refuses more threads than connections
        cmd = [
            _wrk(),
            f"-t{threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            f"--timeout={self.timeout_s:g}s",
            "--latency",
            "-s",
            str(SCRIPT),
            url,
        ]
        return pinned(cmd, self.pin_core)


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and errors."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    status_errors: int  # responses with status >= 400 (wrk's "Non-2xx or 3xx responses")
    socket_errors: int  # connect + read + write + timeout

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "rps": self.rps, "errors": self.errors}


def parse(stdout: str) -> WrkResult:
    """The result in wrk's output (the ``WRK_JSON`` line of post.lua's ``done()``)."""
    lines = [line for line in stdout.splitlines() if line.startswith(_MARKER)]
    if not lines:
        raise WrkError(f"no {_MARKER.strip()} line in wrk's output:\n{stdout}")
    raw = json.loads(lines[-1][len(_MARKER) :])
    ms = lambda key: raw[key] / 1000.0  # noqa: E731
    socket = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        mean_ms=ms("mean_us"),
        max_ms=ms("max_us"),
        status_errors=raw["status_errors"],
        socket_errors=socket,
    )


def run(url: str, load: LoadSettings, body: str = BODY) -> WrkResult:
    """Load ``url`` with POSTs of ``body`` as ``load`` says; raises WrkError if wrk fails."""
    cmd = load.command(url)
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "WRK_BODY": body},
        timeout=load.duration_s + load.timeout_s + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise WrkError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return parse(proc.stdout)


def version() -> str:
    """wrk's version line (``wrk -v`` exits 1 by design, so the exit status is not checked)."""
    proc = subprocess.run([_wrk(), "-v"], capture_output=True, text=True, check=False)
    return (proc.stdout + proc.stderr).splitlines()[0].strip()


def _wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed (Debian: apt-get install -y wrk)")
    return path
