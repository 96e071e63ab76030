"""The real service under a real Prometheus: two uvicorn workers, known traffic, our rules and dashboard.

The service runs on a copy of the shipped demo store plus one version folder copied by hand, its
manifest naming another version and its weights damaged: it must fail to load. Hard solves are
the golden inputs at the default method with a far tighter tolerance than the baseline's: NFE
several times the golden baseline, as inputs from outside the training distribution can cause.
(Inputs far from the data do not do it for these models: their tanh fields saturate there, and
saturated dynamics are easy to solve.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_harness import REPO, Prometheus, dashboard_queries, free_port

from models_store import DEFAULT_STORE_ROOT, WEIGHTS_FILE, ModelStore, load_golden

pytestmark = pytest.mark.slow

TIGHT = 1e-12
"""rtol and atol of the hard solves (the service is started allowing them)."""
ROUNDS = 12
"""Requests of each kind after Prometheus's first scrape."""
PREDICT = "/v1/models/{name}/predict"


@dataclass(frozen=True)
class Served:
    url: str
    prom: Prometheus
    hard: str  # model answering the hard solves
    easy: str  # model answering in-distribution solves
    broken: tuple[str, str]  # (model, version) that failed to load
    predictions: int  # 200 answers of PREDICT sent in all


def traffic_models(store: ModelStore, served: set[str], broken: str) -> tuple[str, str]:
    """Two served models with 2-D inputs, preferring those without the damaged version."""
    two_d = [
        name for name in store.list_models() if name in served and store.manifest(name).input.shape == [2]
    ]
    hard, easy = sorted(two_d, key=lambda name: name == broken)[:2]
    return hard, easy


def add_broken_version(store: ModelStore, name: str) -> str:
    """Copy the latest version of ``name`` by hand as a new version, weights damaged; its number."""
    version = max(store.versions(name)) + 1
    folder = store.model_dir(name) / str(version)
    shutil.copytree(store.version_dir(name), folder)
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")
    return str(version)


def metrics_text(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text  # a new connection: any worker may answer
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(text: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in text.items() if n == name and set(labels.items()) <= ls)


def start_service(store: Path, metrics_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ODESERVE_MIN_TOLERANCE": "1e-13",
        "ODESERVE_TORCH_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "service",
        "--port",
        str(port),
        "--store",
        str(store),
        "--workers",
        "2",
        "--poll-interval",
        "0",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, cwd=REPO, env=env), f"http://127.0.0.1:{port}"


def wait_for_both_workers(url: str, process: subprocess.Popen[bytes], broken: tuple[str, str]) -> None:
    """Each worker counts the broken version once when it has loaded the store: wait for 2."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            text = metrics_text(url)
            if sample(text, "odeserve_model_load_failures_total", model=broken[0], version=broken[1]) == 2:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the two workers did not both load the store within 180 s")


def post(url: str, name: str, inputs: list[list[float]], tolerance: float | None = None) -> httpx.Response:
    body: dict = {"inputs": inputs}
    if tolerance is not None:
        body["solver"] = {"rtol": tolerance, "atol": tolerance}
    return httpx.post(f"{url}/v1/models/{name}/predict", json=body, timeout=60)


def send_round(url: str, hard: str, easy: str, golden: dict[str, list[list[float]]]) -> int:
    """One request of each kind; the number of 200 answers from PREDICT."""
    assert post(url, hard, golden[hard], TIGHT).status_code == 200
    assert post(url, easy, golden[easy]).status_code == 200
    assert post(url, "no-such-model", golden[easy]).status_code == 404
    assert post(url, easy, [[1.0, 2.0, 3.0]]).status_code == 422  # 3 numbers for a 2-D input
    return 2


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, start_prometheus: Callable[..., Prometheus]
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("store") / "store"
    shutil.copytree(DEFAULT_STORE_ROOT, root)
    store = ModelStore(root)
    broken = (store.list_models()[-1], add_broken_version(store, store.list_models()[-1]))
    process, url = start_service(root, tmp_path_factory.mktemp("metrics"))
    try:
        wait_for_both_workers(url, process, broken)
        info = metrics_text(url)
        served = {
            dict(labels)["model"]
            for (name, labels), value in info.items()
            if name == "odeserve_model_version_info" and value == 1
        }
        hard, easy = traffic_models(store, served, broken[0])
        golden = {name: load_golden(store.version_dir(name)).inputs for name in (hard, easy)}
        sent = send_round(url, hard, easy, golden)  # creates the series: rate() misses a series' first value
        prom = start_prometheus(url.removeprefix("http://"))
        prom.wait_for(lambda: prom.query('up{job="odeserve"} == 1'), timeout=60, what="a first scrape")
        sent += sum(send_round(url, hard, easy, golden) for _ in range(ROUNDS))
        yield Served(url, prom, hard, easy, broken, sent)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_request_totals_are_the_same_whichever_worker_answers(served: Served) -> None:
    ok = {"endpoint": PREDICT, "status": "200"}
    totals = {sample(metrics_text(served.url), "odeserve_requests_total", **ok) for _ in range(8)}
    assert totals == {served.predictions}
    query = 'sum(odeserve_requests_total{endpoint="/v1/models/{name}/predict", status="200"})'
    prom = served.prom
    assert prom.wait_for(lambda: prom.value(query) == served.predictions, what="a scrape after the traffic")


def test_every_rule_evaluates_without_error(served: Served) -> None:
    prom = served.prom
    rules = prom.wait_for(
        lambda: all(r["health"] != "unknown" for r in prom.rules()) and prom.rules(),
        what="every rule evaluated",
    )
    assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []


@pytest.mark.parametrize(("title", "expr"), dashboard_queries(), ids=[t for t, _ in dashboard_queries()])
def test_dashboard_query_returns_data(served: Served, title: str, expr: str) -> None:
    assert served.prom.wait_for(lambda: served.prom.query(expr), what=f"data for panel {title!r}: {expr}")


def test_nfe_drift_for_hard_solves_only(served: Served) -> None:
    prom = served.prom
    prom.wait_for(lambda: prom.alerts("OdeserveNfeDrift", model=served.hard), what="NFE drift on hard solves")
    p95 = f'odeserve:sample_nfe:p95_10m{{model="{served.easy}"}}'  # NaN for its versions without traffic
    threshold = "on (model, version, method) odeserve:golden_nfe:drift_threshold"
    assert prom.wait_for(lambda: prom.query(f"{p95} < {threshold}"), what="the p95 of in-distribution solves")
    assert prom.query(f"{p95} >= {threshold}") == []
    assert prom.alerts("OdeserveNfeDrift", model=served.easy) == []


def test_the_damaged_version_fires_a_load_failure(served: Served) -> None:
    model, version = served.broken
    firing = served.prom.wait_for(lambda: served.prom.alerts("OdeserveModelLoadFailure", "firing"))
    assert (model, version) in [(a["labels"]["model"], a["labels"]["version"]) for a in firing]
