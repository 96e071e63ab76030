"""``python -m service`` as a subprocess whose process and log file the test keeps (signals, exit code,
log lines); :mod:`live_server` is the simpler helper when only HTTP matters."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from live_server import REPO, _wait_until_up, free_port, service_command, service_env, stop


@dataclass
class ServiceProcess:
    proc: subprocess.Popen[bytes]
    client: httpx.Client
    log_path: Path

    def log_records(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far (other lines are skipped)."""
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
        return records

    def access_records(self) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r.get("logger") == "service.access"]


@contextmanager
def service_process(
    store: Path,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    poll_interval: float = 0,
    args: tuple[str, ...] = (),
) -> Iterator[ServiceProcess]:
    """Start the service on ``store`` logging to ``log_path``; SIGTERM (then SIGKILL) when done."""
    port = free_port()
    cmd = service_command(port, store, poll_interval, *args)
    full_env = service_env(env)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        try:
            _wait_until_up(client, proc, timeout=90)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')}") from None
        yield ServiceProcess(proc, client, log_path)
    finally:
        client.close()
        stop(proc)


def metric_value(client: httpx.Client, name: str, **labels: str) -> float:
    """The sum of a metric's samples (those with ``labels``) on ``GET /metrics``; 0 if none."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total
