"""The local fleet for real: three ``python -m service`` processes on one store behind a real
HAProxy (deploy/haproxy/haproxy.cfg) and a real Prometheus, started through deploy.fleet's API.

Clients post predicts through haproxy from a few threads while replicas are restarted one at a
time (SIGTERM: each drains on /readyz first), killed (SIGKILL) and handed a new version; not one
answer may be other than 200. Every load loop stops at a count and at a time limit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_harness import DEPLOY, Prometheus, dashboard_queries, free_port

from deploy.fleet import Fleet, FleetSpec, ReplicaOptions, haproxy, running_fleet
from deploy.fleet import prometheus as fleet_prometheus
from models_store import DEFAULT_STORE_ROOT, ModelStore

pytestmark = pytest.mark.slow

REPLICAS = 3
POLL_S = 1.0
"""Each replica's store polling: a published version must be served everywhere within 2 of them."""
DRAIN_GRACE_S = 2.0
"""/readyz answers 503 this long after SIGTERM: more than haproxy needs to see it (fall 2, 1.25 s)."""
LOAD_MODEL = "moons-node"
COUNTED_MODEL = "circles-node"  # only the Prometheus test posts to it: its counts start at zero
POINT = [[0.0, 0.9]]


@dataclass
class Answer:
    started: float
    status: int  # 0: no HTTP answer at all (the client saw a transport error)
    version: int | None
    error: str = ""


@dataclass
class Load:
    """Client threads posting predicts through haproxy until stopped, ``max_requests`` or ``max_s``."""

    url: str
    model: str = LOAD_MODEL
    body: dict[str, Any] = field(default_factory=lambda: {"inputs": POINT})
    threads: int = 3
    max_requests: int = 4000
    max_s: float = 75.0
    pause_s: float = 0.03
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sent: int = 0

    def __enter__(self) -> Load:
        self._deadline = time.monotonic() + self.max_s
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                with self._lock:
                    if self._sent >= self.max_requests:
                        return
                    self._sent += 1
                started = time.monotonic()
                try:
                    response = client.post(f"/v1/models/{self.model}/predict", json=self.body)
                    version = response.json().get("version") if response.status_code == 200 else None
                    answer = Answer(started, response.status_code, version, response.text[:200])
                except httpx.HTTPError as exc:
                    answer = Answer(started, 0, None, repr(exc))
                with self._lock:
                    self.answers.append(answer)
                time.sleep(self.pause_s)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        """Until ``count`` answers came back in all (the load is flowing)."""
        deadline = time.monotonic() + timeout
        while len(self.answers) < count:
            assert time.monotonic() < deadline, f"only {len(self.answers)} answers after {timeout} s"
            assert any(w.is_alive() for w in self._workers), "every client thread ended"
            time.sleep(0.05)

    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200 or a.version is None]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped demo store: the version test publishes into it."""
    root = tmp_path_factory.mktemp("fleet-store") / "store"
    shutil.copytree(DEFAULT_STORE_ROOT, root)
    return root


@pytest.fixture(scope="module")
def fleet(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    spec = FleetSpec(
        workdir=tmp_path_factory.mktemp("fleet"),
        replicas=REPLICAS,
        port=free_port(),
        replica_ports=[free_port() for _ in range(REPLICAS)],
        stats_port=free_port(),
        prometheus_port=free_port(),
        scrape_interval_s=1.0,
        replica=ReplicaOptions(
            store=store, poll_interval_s=POLL_S, drain_grace_s=DRAIN_GRACE_S, log_level="warning"
        ),
    )
    with running_fleet(spec, timeout=90) as started:
        yield started


def haproxy_log(fleet: Fleet) -> str:
    return fleet.lb.log.read_text(errors="replace")


def test_rolling_restart_under_load_answers_every_request(fleet: Fleet) -> None:
    pids = [r.process.pid for r in fleet.replicas]
    with Load(fleet.url) as load:
        load.wait_for(20)
        fleet.rolling_restart(timeout=60)
        during = len(load.answers)
        load.wait_for(during + 20)
    assert load.failures() == []
    assert all(r.process.pid not in pids for r in fleet.replicas)
    assert fleet.lb_states() == {f"api{i + 1}": "UP" for i in range(REPLICAS)}
    # each left the pool because /readyz said 503, before it stopped listening
    for i in range(REPLICAS):
        assert f"Server api/api{i + 1} is DOWN, reason: Layer7 wrong status, code: 503" in haproxy_log(fleet)


HEAVY = {
    "inputs": [[-1.5 + 4 * i / 255, 1.0 - 2 * i / 255] for i in range(256)],
    "solver": {"rtol": 1e-9, "atol": 1e-9},
}
"""A predict that takes a replica a good tenth of a second: one is in flight when the replica dies."""


def test_a_replica_killed_under_load_costs_no_client_an_error(fleet: Fleet) -> None:
    victim = haproxy.server_name(1)
    with (
        Load(fleet.url) as load,
        Load(fleet.url, body=HEAVY, threads=2, pause_s=0, max_requests=200) as heavy,
    ):
        load.wait_for(20)
        heavy.wait_for(2)
        deadline = time.monotonic() + 10  # until haproxy has a request in flight on the victim
        while int(haproxy.server_stats(fleet.stats_url)[victim]["scur"]) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        fleet.kill(1)
        killed_at = len(load.answers)
        fleet.wait_in_lb(1, "DOWN", timeout=10)
        load.wait_for(killed_at + 40)
        fleet.revive(1, timeout=60)
        load.wait_for(len(load.answers) + 20)
    assert load.failures() == [] and heavy.failures() == []
    assert fleet.crashed() == []
    # haproxy sent some requests again, to another replica: they had reached the dead one
    assert re.search(r" \d+/\d+/\d+/\d+/\+[1-9]\d* ", haproxy_log(fleet))


def republish_latest(store: ModelStore, name: str) -> int:
    """Publish the files of ``name``'s latest version again as a new version (models_store's API)."""
    folder = store.version_dir(name)
    manifest = store.manifest(name)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name in manifest.files}
    published = store.publish(
        name,
        files,
        lambda version, digests: manifest.model_copy(
            update={"version": version, "files": digests, "created_at": datetime.now(UTC)}
        ),
    )
    return published.version


def served_version(replica_url: str) -> int:
    answer = httpx.post(f"{replica_url}/v1/models/{LOAD_MODEL}/predict", json={"inputs": POINT}, timeout=10)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"])


def test_a_published_version_is_served_by_every_replica_within_two_polls(fleet: Fleet, store: Path) -> None:
    models = ModelStore(store)
    before = models.resolve(LOAD_MODEL)
    with Load(fleet.url) as load:
        load.wait_for(20)
        published_at = time.monotonic()
        version = republish_latest(models, LOAD_MODEL)
        assert version == before + 1
        seen: dict[str, float] = {}
        while len(seen) < REPLICAS and time.monotonic() - published_at < 4 * POLL_S + 5:
            for replica in fleet.replicas:
                if replica.url not in seen and served_version(replica.url) == version:
                    seen[replica.url] = time.monotonic() - published_at
            time.sleep(0.05)
        everywhere_at = time.monotonic()
        load.wait_for(len(load.answers) + 30)
    assert load.failures() == []
    assert len(seen) == REPLICAS, f"not every replica serves version {version}: {seen}"
    assert max(seen.values()) <= 2 * POLL_S, seen
    assert {a.version for a in load.answers} <= {before, version}
    assert {a.version for a in load.answers if a.started > everywhere_at} == {version}


def test_prometheus_sums_every_replicas_requests_to_the_clients_count(fleet: Fleet) -> None:
    assert fleet.prometheus_url is not None
    prom = Prometheus(fleet.prometheus_url)
    try:
        prom.wait_for(lambda: prom.query('count(up{job="odeserve"} == 1) == 3'), what="every replica scraped")
        with Load(fleet.url, model=COUNTED_MODEL, max_requests=90) as load:
            load.wait_for(90)
        assert load.failures() == [] and len(load.answers) == 90
        counted = f'odeserve_requests_total{{job="odeserve", model="{COUNTED_MODEL}"}}'
        prom.wait_for(
            lambda: prom.query(f"sum({counted}) == 90"), timeout=15, what="90 requests summed over replicas"
        )
        by_replica = {
            s["metric"]["instance"]: float(s["value"][1])
            for s in prom.query(f"sum by (instance) ({counted})")
        }
        assert set(by_replica) <= {r.address for r in fleet.replicas} and len(by_replica) >= 2, by_replica
        assert prom.query('up{job="haproxy"} == 1')
        # the dashboard shows the fleet: no panel splits (or double-plots) by replica
        split = [
            (title, expr)
            for title, expr in dashboard_queries()
            if any("instance" in s["metric"] for s in prom.query(expr))
        ]
        assert split == []
    finally:
        prom.close()


def test_the_fleets_prometheus_config_is_valid_with_composes_jobs_and_rules(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(fleet_prometheus.render_config(["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1:3"))
    result = subprocess.run(
        ["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    local = json.loads(config.read_text())
    assert [job["job_name"] for job in local["scrape_configs"]] == [
        j["job_name"] for j in compose["scrape_configs"]
    ]
    assert [Path(p).name for p in local["rule_files"]] == [Path(p).name for p in compose["rule_files"]]
