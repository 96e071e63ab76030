"""The fleet: N replicas, HAProxy in front of them and, if asked, Prometheus scraping each of them.

    with running_fleet(FleetSpec(replicas=3, port=8000, workdir=Path("/tmp/fleet"))) as fleet:
        httpx.post(f"{fleet.url}/v1/models/moons-node/predict", json={"inputs": [[0.0, 0.9]]})
        fleet.restart(0)        # SIGTERM, drain, start again, back in the pool
        fleet.kill(1); fleet.revive(1)

Every address is 127.0.0.1. Ports: the load balancer on ``port``, replicas on ``replica_ports``
(by default the N ports after it), HAProxy's stats page and exporter on ``stats_port``,
Prometheus on ``prometheus_port`` when set.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import haproxy, prometheus
from .process import ManagedProcess
from .replica import HOST, Replica, ReplicaOptions

log = logging.getLogger("deploy.fleet")

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
"""Longest wait for a replica to load the store, or for haproxy to see it UP."""


@dataclass(frozen=True)
class FleetSpec:
    """What to run. ``replica_ports`` empty: the ``replicas`` ports right after ``port``."""

    workdir: Path
    replicas: int = 3
    port: int = 8000
    replica_ports: Sequence[int] = ()
    stats_port: int = 8404
    prometheus_port: int | None = None
    scrape_interval_s: float = 5.0
    replica: ReplicaOptions = field(default_factory=ReplicaOptions)

    def ports(self) -> list[int]:
        ports = list(self.replica_ports) or [self.port + 1 + i for i in range(self.replicas)]
        if len(ports) != self.replicas or self.replicas < 1:
            raise ValueError(f"{self.replicas} replicas need as many ports, got {ports}")
        taken = [
            self.port,
            self.stats_port,
            *ports,
            *([self.prometheus_port] if self.prometheus_port else []),
        ]
        if len(set(taken)) != len(taken):
            raise ValueError(f"every port must differ: {taken}")
        return ports


class Fleet:
    """Start with :meth:`start`, stop with :meth:`stop` (or use :func:`running_fleet`)."""

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        spec.workdir.mkdir(parents=True, exist_ok=True)
        self.replicas = [
            Replica(i, port, spec.replica, spec.workdir, REPO) for i, port in enumerate(spec.ports())
        ]
        self.url = f"http://{HOST}:{spec.port}"
        self.stats_url = f"http://{HOST}:{spec.stats_port}/stats"
        addresses = [r.address for r in self.replicas]
        config = spec.workdir / "haproxy.cfg"
        config.write_text(haproxy.render_config(addresses))
        lb_env = haproxy.environment(f"{HOST}:{spec.port}", f"{HOST}:{spec.stats_port}")
        self.lb = ManagedProcess(
            "haproxy", haproxy.command(config), lb_env, spec.workdir / "haproxy.log", REPO
        )
        self.prometheus: ManagedProcess | None = None
        self.prometheus_url: str | None = None
        if spec.prometheus_port is not None:
            self.prometheus_url = f"http://{HOST}:{spec.prometheus_port}"
            prom_config = spec.workdir / "prometheus.yml"
            prom_config.write_text(
                prometheus.render_config(addresses, f"{HOST}:{spec.stats_port}", spec.scrape_interval_s)
            )
            argv = prometheus.command(
                prom_config, spec.workdir / "prometheus-data", f"{HOST}:{spec.prometheus_port}"
            )
            self.prometheus = ManagedProcess("prometheus", argv, {}, spec.workdir / "prometheus.log", REPO)
        self._expected_down: set[int] = set()

    # -- whole fleet ---------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Replicas (in parallel) until ready, then haproxy until it sees every one UP, then Prometheus."""
        for replica in self.replicas:
            replica.start()
        for replica in self.replicas:
            replica.wait_ready(timeout)
        self.lb.start()
        self.lb.wait_http(self.stats_url, timeout)
        for replica in self.replicas:
            self.wait_in_lb(replica.index, "UP", timeout)
        if self.prometheus is not None:
            assert self.prometheus_url is not None
            self.prometheus.start()
            self.prometheus.wait_http(f"{self.prometheus_url}/-/ready", timeout)

    def stop(self) -> None:
        """The load balancer and Prometheus, then every replica at once (each finishes what it has)."""
        self.lb.stop(10)
        if self.prometheus is not None:
            self.prometheus.stop(30)
        self._expected_down.update(r.index for r in self.replicas)
        # No load balancer is left to drain for: a second SIGTERM (in Replica.stop) skips the grace.
        for replica in self.replicas:
            replica.process.send(signal.SIGTERM)
        time.sleep(0.2)
        with ThreadPoolExecutor(max(1, len(self.replicas))) as pool:
            list(pool.map(lambda r: r.stop(), self.replicas))

    # -- one replica ---------------------------------------------------------------------------
    def restart(self, index: int, timeout: float = START_TIMEOUT_S) -> None:
        """Graceful: SIGTERM (haproxy sees /readyz 503 and stops sending it work), wait for the exit,
        start it again on the same port, and return once haproxy sees it UP again."""
        replica = self.replicas[index]
        self._expected_down.add(index)
        code = replica.stop()
        log.info("replica %d stopped (exit %s); starting it again", index, code)
        self.revive(index, timeout)

    def rolling_restart(self, timeout: float = START_TIMEOUT_S) -> None:
        """Every replica, one at a time: the next goes only once the last is back in the pool."""
        for replica in self.replicas:
            self.restart(replica.index, timeout)

    def kill(self, index: int) -> None:
        """SIGKILL: the replica dies mid-request, as in a crash or an OOM kill."""
        self._expected_down.add(index)
        self.replicas[index].process.kill()

    def revive(self, index: int, timeout: float = START_TIMEOUT_S) -> None:
        """Start a stopped replica and wait until haproxy sends it work again."""
        replica = self.replicas[index]
        try:
            replica.start()
            replica.wait_ready(timeout)
            self.wait_in_lb(index, "UP", timeout)
        finally:  # from here on, if it is down, it crashed (the launcher starts it again)
            self._expected_down.discard(index)

    def crashed(self) -> list[int]:
        """Replicas that exited without being asked to."""
        return [
            r.index for r in self.replicas if not r.process.running and r.index not in self._expected_down
        ]

    # -- what haproxy sees ---------------------------------------------------------------------
    def lb_states(self) -> dict[str, str]:
        """{haproxy server name: status}, e.g. {"api1": "UP", "api2": "DOWN", "api3": "UP 1/2"}."""
        return haproxy.server_states(self.stats_url)

    def wait_in_lb(self, index: int, state: str, timeout: float = START_TIMEOUT_S) -> None:
        """Until haproxy reports replica ``index`` in ``state`` (exactly: "UP" is not "UP 1/2")."""
        name = haproxy.server_name(index)
        deadline = time.monotonic() + timeout
        while (seen := self.lb_states().get(name)) != state:
            if not self.lb.running:
                raise RuntimeError(f"haproxy exited with {self.lb.returncode}:\n{self.lb.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy still sees {name} as {seen!r}, not {state!r}, after {timeout} s")
            time.sleep(0.1)


@contextmanager
def running_fleet(spec: FleetSpec, timeout: float = START_TIMEOUT_S) -> Iterator[Fleet]:
    """A started fleet, stopped on the way out (also when the start fails half-way)."""
    fleet = Fleet(spec)
    try:
        fleet.start(timeout)
        yield fleet
    finally:
        fleet.stop()
