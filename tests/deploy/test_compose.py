"""docker-compose.yml, Dockerfile and .dockerignore: valid, and what the README promises."""

from __future__ import annotations

import subprocess

import yaml
from prometheus_harness import REPO


def compose(*args: str) -> str:
    result = subprocess.run(["docker-compose", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_compose_file_is_valid() -> None:
    compose("config", "-q")


def test_compose_services_profiles_and_volumes() -> None:
    assert set(compose("config", "--services").split()) == {"api", "lb", "train", "prometheus", "grafana"}
    assert compose("config", "--profiles").split() == ["train"]  # `train` runs only when asked for
    assert set(compose("config", "--volumes").split()) == {"models", "prometheus-data", "grafana-data"}


def test_compose_publishes_the_documented_ports() -> None:
    config = compose("config")
    for port in (8000, 9090, 3000):
        assert f"published: {port}" in config or f"{port}:{port}" in config, port


def test_the_api_replicas_sit_behind_haproxy_and_prometheus_scrapes_each() -> None:
    services = yaml.safe_load(compose("config"))["services"]
    assert "ports" not in services["api"]  # `--scale api=N` would clash on a published port
    lb = services["lb"]
    assert lb["image"] == "haproxy:2.6" and any(
        p.get("published") == 8000 for p in lb["ports"] if isinstance(p, dict)
    )
    assert any(v.endswith("deploy/haproxy:/usr/local/etc/haproxy:ro") for v in lb["volumes"])
    assert (
        "server-template api 1-10 api:8000 resolvers docker"
        in (REPO / "deploy/haproxy/haproxy.cfg").read_text()
    )
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    (odeserve,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "odeserve"]
    assert odeserve["dns_sd_configs"] == [
        {"names": ["api"], "type": "A", "port": 8000, "refresh_interval": "5s"}
    ]


def test_image_runs_as_a_user_with_a_healthcheck_and_the_demo_store() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert [line for line in lines if line.startswith("FROM ")] == [
        "FROM python:3.11-slim AS build",
        "FROM python:3.11-slim",
    ]
    assert "USER odeserve" in lines and "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "ODESERVE_STORE=/models" in dockerfile and "models_store/demo /models" in dockerfile
    assert lines[-1] == 'CMD ["python", "-m", "service", "--host", "0.0.0.0", "--port", "8000"]'


def test_dockerignore_lets_in_only_what_the_image_copies() -> None:
    rules = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in rules and "!service/" in rules and "!models_store/" in rules
    assert not any(rule.startswith("!") and ".venv" in rule for rule in rules)
