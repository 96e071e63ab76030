"""deploy/haproxy/haproxy.cfg: valid as docker-compose runs it and as the local fleet renders it,
and, on a real haproxy in front of a slow stand-in replica, a storm meets the numbers it promises:
at most ``maxconn`` requests on a replica, the rest wait in a queue for a bounded time, then 503s
in the API's JSON with Retry-After.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_harness import free_port

from deploy.fleet import haproxy
from deploy.fleet.process import ManagedProcess

TEMPLATE = haproxy.TEMPLATE.read_text()
MAXCONN = 32  # per replica, in the template's default-server line
QUEUE_TIMEOUT_S = 2.0
SLOW_S = 3.0  # the stand-in replica's predict: longer than the queue timeout


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)


def test_the_compose_config_and_the_rendered_one_are_valid(tmp_path: Path) -> None:
    assert check(haproxy.TEMPLATE).returncode == 0
    rendered = tmp_path / "haproxy.cfg"
    rendered.write_text(haproxy.render_config(["127.0.0.1:9001", "127.0.0.1:9002"]))
    result = check(rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendering_swaps_only_the_docker_dns_servers_for_one_line_per_replica() -> None:
    rendered = haproxy.render_config(["127.0.0.1:9001", "127.0.0.1:9002"]).splitlines()
    assert [line.strip() for line in rendered if "server" in line.split()[:1]] == [
        "server api1 127.0.0.1:9001",
        "server api2 127.0.0.1:9002",
    ]
    assert not any(line.strip().startswith("server-template") for line in rendered)
    template = TEMPLATE.splitlines()
    assert [line for line in template if not line.strip().startswith("server-template")] == [
        line for line in rendered if not line.strip().startswith("server api")
    ]
    with pytest.raises(ValueError):
        haproxy.render_config([])


def test_the_policy_is_the_one_documented() -> None:
    lines = {line.strip() for line in TEMPLATE.splitlines()}
    assert {
        "retry-on conn-failure empty-response response-timeout",
        "retries 3",
        "option redispatch 1",
        "option http-buffer-request",
        "http-check send meth GET uri /readyz",
        "http-check expect status 200",
        f"timeout queue {QUEUE_TIMEOUT_S:g}s",
    } <= lines
    assert not any(line.startswith("http-request deny") for line in lines)  # a line, not a door
    assert any(line.startswith("default-server check") and f"maxconn {MAXCONN}" in line for line in lines)


class StandIn(ThreadingHTTPServer):
    """A replica that is always ready and takes SLOW_S per request; counts requests at once."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.lock = threading.Lock()
        self.active = self.most_active = 0


class _SlowHandler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # the health check
        self._answer(b'{"status":"ready"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.active += 1
            self.server.most_active = max(self.server.most_active, self.server.active)
        time.sleep(SLOW_S)
        with self.server.lock:
            self.server.active -= 1
        self._answer(b'{"version":1}')

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def balancer(tmp_path: Path, replica: str) -> Iterator[tuple[str, str]]:
    """haproxy on the rendered config in front of ``replica``; yields (api url, stats url)."""
    port, stats_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy.render_config([replica]))
    env = haproxy.environment(f"127.0.0.1:{port}", f"127.0.0.1:{stats_port}")
    process = ManagedProcess("haproxy", haproxy.command(config), env, tmp_path / "haproxy.log", tmp_path)
    process.start()
    try:
        stats = f"http://127.0.0.1:{stats_port}/stats"
        process.wait_http(stats, timeout=20)
        yield f"http://127.0.0.1:{port}", stats
    finally:
        process.stop(10)


def wait_state(stats: str, state: str) -> None:
    deadline = time.monotonic() + 10
    while haproxy.server_states(stats).get("api1") != state:
        assert time.monotonic() < deadline, haproxy.server_states(stats)
        time.sleep(0.05)


def assert_haproxy_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["type"] == "unavailable"


def test_with_no_replica_up_haproxy_answers_503_json_with_retry_after(tmp_path: Path) -> None:
    with balancer(tmp_path, f"127.0.0.1:{free_port()}") as (url, stats):  # nothing listens there
        wait_state(stats, "DOWN")
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/models/m/predict", json={"inputs": [[0, 1]]}, timeout=10)
        assert time.monotonic() - started < 1
        assert_haproxy_503(response)


def test_a_storm_gets_maxconn_served_and_the_rest_a_503_once_the_queue_wait_runs_out(tmp_path: Path) -> None:
    stand_in = StandIn()
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    clients = MAXCONN + 32
    answers: list[tuple[float, httpx.Response]] = []
    lock = threading.Lock()
    try:
        with balancer(tmp_path, f"127.0.0.1:{stand_in.server_address[1]}") as (url, stats):
            wait_state(stats, "UP")

            everyone = threading.Barrier(clients)

            def post() -> None:
                with httpx.Client(timeout=30) as client:
                    everyone.wait(timeout=30)  # all at once: MAXCONN get a slot, the rest wait in the queue
                    started = time.monotonic()
                    response = client.post(f"{url}/v1/models/m/predict", json={"inputs": [[0, 1]]})
                with lock:
                    answers.append((time.monotonic() - started, response))

            threads = [threading.Thread(target=post) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
    finally:
        stand_in.shutdown()
        stand_in.server_close()
    assert len(answers) == clients
    served = [s for s, r in answers if r.status_code == 200]
    refused = [(s, r) for s, r in answers if r.status_code != 200]
    assert len(served) == MAXCONN and stand_in.most_active == MAXCONN
    for _, response in refused:
        assert_haproxy_503(response)
    # every refusal came when the queue wait ran out: not at once, and not after the slow ones
    assert len(refused) == 32
    assert all(QUEUE_TIMEOUT_S - 0.1 < s < SLOW_S for s, _ in refused), sorted(s for s, _ in refused)
