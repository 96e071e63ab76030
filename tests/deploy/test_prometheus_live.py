"""The rules and the dashboard on a real Prometheus, scraping service.telemetry.metrics served from this test.

The exporter is ``Metrics.render()`` behind a plain HTTP server, fed with known traffic: hard
inputs for one model version, in-distribution inputs for another, 5xx, slow requests and a
version that failed to load. A second target that nothing answers stands for a service that is
down. The same checks against the real service live in test_prometheus_integration.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry
from prometheus_harness import Prometheus, dashboard_queries

from service.telemetry.metrics import Metrics, ServedVersion

HARD = ServedVersion("moons", "1", "node", "dopri5", 26.0)
EASY = ServedVersion("circles", "1", "anode", "dopri5", 26.0)
PREDICT = "/v1/models/{name}/predict"


@contextmanager
def serving(metrics: Metrics) -> Iterator[str]:
    """Serve ``metrics.render()`` at /metrics on a free port; yields ``host:port``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, content_type = metrics.render()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_known_traffic(metrics: Metrics) -> None:
    for _ in range(40):
        metrics.observe_request(HARD.model, HARD.version, PREDICT, 200, 0.004)
    for _ in range(10):
        metrics.observe_request(HARD.model, HARD.version, PREDICT, 500, 0.01)
        metrics.observe_request(EASY.model, EASY.version, "/v1/models/{name}/trajectory", 200, 2.0)
        metrics.observe_request("", "", PREDICT, 404, 0.001)
    metrics.observe_solve(HARD.model, HARD.version, "dopri5", [200] * 30, [30] * 30, [3] * 30, [0.001])
    metrics.observe_solve(EASY.model, EASY.version, "dopri5", [26] * 30, [4] * 30, [0] * 30, [0.001])


@pytest.fixture(scope="module")
def prom(start_prometheus: Callable[..., Prometheus]) -> Iterator[Prometheus]:
    metrics = Metrics(CollectorRegistry())
    metrics.set_loaded_versions([HARD, EASY])
    metrics.count_load_failure("moons", "9")
    send_known_traffic(metrics)  # creates the series: rate() cannot see a series' first value
    with socket.socket() as refusing, serving(metrics) as target:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        prom = start_prometheus(target, f"127.0.0.1:{refusing.getsockname()[1]}")
        prom.wait_for(lambda: prom.query(f'up{{instance="{target}"}} == 1'), what="a first scrape")
        send_known_traffic(metrics)
        yield prom


def test_every_rule_evaluates_without_error(prom: Prometheus) -> None:
    rules = prom.wait_for(
        lambda: [r for r in prom.rules() if r["health"] != "unknown"] == prom.rules() and prom.rules(),
        what="every rule evaluated",
    )
    assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []


@pytest.mark.parametrize(("title", "expr"), dashboard_queries(), ids=[t for t, _ in dashboard_queries()])
def test_dashboard_query_returns_data(prom: Prometheus, title: str, expr: str) -> None:
    assert prom.wait_for(lambda: prom.query(expr), what=f"data for panel {title!r}: {expr}")


def test_nfe_drift_is_pending_for_hard_inputs_and_inactive_for_in_distribution(prom: Prometheus) -> None:
    prom.wait_for(lambda: prom.alerts("OdeserveNfeDrift", model=HARD.model), what="NFE drift on hard inputs")
    assert prom.value(f'odeserve:sample_nfe:p95_10m{{model="{EASY.model}"}}') < 3 * EASY.golden_nfe
    assert prom.alerts("OdeserveNfeDrift", model=EASY.model) == []


def test_error_ratio_and_latency_alerts_go_pending(prom: Prometheus) -> None:
    prom.wait_for(lambda: prom.alerts("OdeserveHighErrorRatio"), what="the 5xx ratio alert")
    slow = prom.wait_for(lambda: prom.alerts("OdeserveHighLatencyP99"), what="the p99 alert")
    assert [a["labels"]["endpoint"] for a in slow] == ["/v1/models/{name}/trajectory"]


def test_a_version_that_failed_to_load_fires_at_once(prom: Prometheus) -> None:
    firing = prom.wait_for(lambda: prom.alerts("OdeserveModelLoadFailure"), what="the load-failure alert")
    labels = [(a["labels"]["model"], a["labels"]["version"], a["state"]) for a in firing]
    assert labels == [("moons", "9", "firing")]


def test_service_down_goes_pending_for_the_target_nothing_answers(prom: Prometheus) -> None:
    down = prom.wait_for(lambda: prom.alerts("OdeserveDown"), what="the down alert")
    assert [a["labels"]["instance"] for a in down] == [prom.query("up == 0")[0]["metric"]["instance"]]
    assert len(prom.query("up == 1")) == 1
