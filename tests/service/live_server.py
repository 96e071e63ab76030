"""A real ``python -m service`` in a subprocess on a free 127.0.0.1 port, driven over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-admin-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(
    store: Path, *, poll_interval: float = 0, env: Mapping[str, str] | None = None, timeout: float = 90
) -> Iterator[httpx.Client]:
    """Start the service on ``store``; yield a client bound to it; stop it (SIGTERM) afterwards."""
    port = free_port()
    cmd = service_command(port, store, poll_interval, "--log-level", "warning")
    full_env = service_env(env)
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        _wait_until_up(client, proc, timeout)
        yield client
    finally:
        client.close()
        stop(proc)


def service_command(port: int, store: Path, poll_interval: float, *args: str) -> list[str]:
    """``python -m service`` on ``port`` serving ``store``, as the tests start it."""
    return [sys.executable, "-m", "service", "--port", str(port), "--store", str(store),
            "--poll-interval", str(poll_interval), *args]  # fmt: skip


def service_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the admin key the tests use, one torch thread, then ``env``."""
    return {**os.environ, "ODESERVE_ADMIN_API_KEY": ADMIN_KEY, "ODESERVE_TORCH_THREADS": "1", **(env or {})}


def stop(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_up(client: httpx.Client, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"the service exited with {proc.returncode}:\n{output}")
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the service did not answer within {timeout} s")


@contextmanager
def threaded_server(app: object) -> Iterator[httpx.Client]:
    """Serve an app object (e.g. one with a test-only route) with uvicorn in a thread, on a real socket."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the threaded server did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=20)
