"""One replica: ``python -m service`` on its own 127.0.0.1 port, serving the fleet's shared store.

Replicas share nothing but the read-only store: each keeps its own metrics (the launcher's
PROMETHEUS_MULTIPROC_DIR, if any, is not handed down) and polls the store by itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .process import ManagedProcess

HOST = "127.0.0.1"
_NOT_INHERITED = ("PROMETHEUS_MULTIPROC_DIR",)


@dataclass(frozen=True)
class ReplicaOptions:
    """What every replica is started with."""

    store: Path | None = None
    poll_interval_s: float | None = None
    workers: int = 1
    drain_grace_s: float = 3.0
    log_level: str = "info"
    env: Mapping[str, str] | None = None
    """Extra ODESERVE_* (or other) variables; they win over the launcher's environment."""

    def command(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "service", "--host", HOST, "--port", str(port)]
        argv += ["--workers", str(self.workers), "--log-level", self.log_level]
        if self.store is not None:
            argv += ["--store", str(self.store.resolve())]
        if self.poll_interval_s is not None:
            argv += ["--poll-interval", str(self.poll_interval_s)]
        return argv

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env.setdefault("ODESERVE_TORCH_THREADS", "1")
        env["ODESERVE_DRAIN_GRACE_S"] = str(self.drain_grace_s)
        return {**env, **(self.env or {})}

    @property
    def stop_timeout_s(self) -> float:
        """How long a stop may take: the drain grace, then the requests in flight (service's bound)."""
        request_timeout = float(self.environment().get("ODESERVE_REQUEST_TIMEOUT_S", 30))
        return self.drain_grace_s + request_timeout + 10


class Replica:
    """Replica ``index`` (0-based) of a fleet, on ``port``."""

    def __init__(self, index: int, port: int, options: ReplicaOptions, workdir: Path, repo: Path) -> None:
        self.index, self.port, self.options = index, port, options
        self.address = f"{HOST}:{port}"
        self.url = f"http://{self.address}"
        self.process = ManagedProcess(
            f"replica {index} ({self.address})",
            options.command(port),
            options.environment(),
            workdir / f"replica-{index}.log",
            repo,
        )

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float) -> None:
        """Until /readyz answers 200: the store is loaded (and the replica is not draining)."""
        self.process.wait_http(f"{self.url}/readyz", timeout)

    def stop(self) -> int | None:
        """SIGTERM: not ready for the drain grace, then finishes what is in flight and exits."""
        return self.process.stop(self.options.stop_timeout_s)
