"""The servers under test, each its own uvicorn process on a free 127.0.0.1 port, always stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cpu import pinned

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
_STOP_GRACE_S = 15.0


class ServerError(RuntimeError):
    """A server exited, or did not become ready in time."""


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: ``argv`` may use ``{port}``; ``ready_path`` answers 200 once it can serve;
    ``info_path`` (optional) describes what it serves, kept with the results."""

    name: str
    argv: tuple[str, ...]
    ready_path: str
    predict_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    info_path: str | None = None

    def command(self, port: int) -> list[str]:
        return [arg.format(port=port) for arg in self.argv]


@dataclass(frozen=True)
class RunningServer:
    spec: ServerSpec
    port: int
    pid: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def uvicorn_argv(app_factory: str) -> tuple[str, ...]:
    """One uvicorn worker serving ``module:factory``, no access log (as odeserve at log level warning)."""
    return (
        sys.executable,
        "-m",
        "uvicorn",
        app_factory,
        "--factory",
        "--host",
        HOST,
        "--port",
        "{port}",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def running(
    spec: ServerSpec, log_dir: Path, *, pin_core: int | None = None, ready_timeout_s: float = 180.0
) -> Iterator[RunningServer]:
    """Start ``spec``, wait until it is ready, yield it; stop it on the way out, errors included."""
    port = free_port()
    log = log_dir / f"{spec.name}.log"
    env = {**os.environ, **spec.env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(spec.command(port), pin_core),
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(spec, port, proc.pid, log)
    try:
        _wait_ready(server, proc, ready_timeout_s)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: RunningServer, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(f"{server.spec.name} exited with {proc.returncode}:\n{_tail(server.log)}")
            try:
                if client.get(server.url(server.spec.ready_path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise ServerError(f"{server.spec.name} was not ready within {timeout_s:g} s:\n{_tail(server.log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
