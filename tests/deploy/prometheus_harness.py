"""A real Prometheus (the Debian binary) for tests: scrapes targets every second with our rules.

    with running_prometheus(tmp_path, ["127.0.0.1:8000"]) as prom:
        prom.wait_for(lambda: prom.query('up == 1'))
        prom.alerts(), prom.rules()

Also the PromQL the deploy/ files hold, ready to run: every panel query of the dashboard.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RULE_FILES = tuple(sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "odeserve.json"
# What Grafana puts in place of its variables when every model is selected.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$model": ".*"}

T = TypeVar("T")


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (a scalar comes back as one sample). Raises on bad PromQL."""
        data = self._get("/api/v1/query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def value(self, expr: str) -> float:
        """The value of a query expected to give exactly one sample."""
        (sample,) = self.query(expr)
        return float(sample["value"][1])

    def alerts(self, alertname: str | None = None, state: str | None = None, **labels: str) -> list[dict]:
        """Active alerts (pending or firing), of one name, in one state, with these labels."""
        wanted = {**labels, **({"alertname": alertname} if alertname else {})}
        return [
            alert
            for alert in self._get("/api/v1/alerts")["alerts"]
            if wanted.items() <= alert["labels"].items() and state in (None, alert["state"])
        ]

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded recording and alert rule, with its ``health`` and ``lastError``."""
        return [rule for group in self._get("/api/v1/rules")["groups"] for rule in group["rules"]]

    def wait_for(self, probe: Callable[[], T], timeout: float = 30, what: str = "") -> T:
        """Poll ``probe`` until it returns something truthy; its last value on timeout is an error."""
        deadline = time.monotonic() + timeout
        while not (result := probe()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Prometheus: still waiting for {what or probe} after {timeout}s")
            time.sleep(0.25)
        return result

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: str) -> Any:
        body = self._http.get(path, params=params).json()
        if body["status"] != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]


@contextmanager
def running_prometheus(
    workdir: Path, targets: list[str], rule_files: tuple[Path, ...] = RULE_FILES
) -> Iterator[Prometheus]:
    """Start Prometheus in ``workdir`` scraping ``targets`` (host:port) as job odeserve; stop it after.

    Prometheus hands new targets to its scrapers about 5 seconds after the start, so the first
    scrape comes then, and every second after.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("the prometheus binary is missing: apt-get install prometheus (see .ci/run)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"  # JSON is YAML
    config.write_text(json.dumps(_config(targets, rule_files), indent=2))
    address = f"127.0.0.1:{free_port()}"
    with (workdir / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={address}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://{address}")
    try:
        _wait_ready(prometheus, process, workdir / "prometheus.log")
        yield prometheus
    finally:
        prometheus.close()
        process.terminate()
        process.wait(timeout=30)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables filled in) for every target of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], _fill_variables(target["expr"]))
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _fill_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _config(targets: list[str], rule_files: tuple[Path, ...]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": "odeserve", "static_configs": [{"targets": targets}]}],
    }


def _wait_ready(prometheus: Prometheus, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{prometheus.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"prometheus not ready after 60s:\n{log.read_text()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
