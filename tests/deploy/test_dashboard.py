"""deploy/grafana: the provisioned dashboard is valid JSON and every panel queries our Prometheus."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from prometheus_harness import DASHBOARD, DEPLOY, REPO

from service.routes import ROUTERS

DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
BOARD = json.loads(DASHBOARD.read_text())
PANELS = BOARD["panels"]
EXPLORER = "${odeserve_url}/ui/models/"
MODEL_IN_LINK = {"table": "${__data.fields.model}"}  # a table row's column; elsewhere the series' label


def test_every_panel_has_a_target_with_an_expression() -> None:
    assert [
        p["title"] for p in PANELS if not p["targets"] or not all(t["expr"].strip() for t in p["targets"])
    ] == []


def test_panels_use_the_provisioned_datasource() -> None:
    uids = {t["datasource"]["uid"] for p in PANELS for t in p["targets"]}
    uids |= {p["datasource"]["uid"] for p in PANELS}
    assert len(uids) == 1 and f"uid: {uids.pop()}" in DATASOURCE.read_text()


def test_panel_ids_and_titles_are_unique_and_panels_do_not_overlap() -> None:
    assert len({p["id"] for p in PANELS}) == len({p["title"] for p in PANELS}) == len(PANELS)
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in PANELS
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)) and max(x for x, _ in cells) < 24


def test_the_dashboard_covers_every_metric_the_service_exports() -> None:
    exprs = " ".join(t["expr"] for p in PANELS for t in p["targets"])
    for name in (
        "odeserve_requests_total",
        "odeserve_request_duration_seconds",
        "odeserve_sample_nfe",
        "odeserve_golden_nfe_baseline",
        "odeserve_solver_steps_total",
        "odeserve_batch_size",
        "odeserve_queue_wait_seconds",
        "odeserve_in_flight_requests",
        "odeserve_model_version_info",
        "odeserve_model_load_failures_total",
    ):
        assert name in exprs, name


def _series_labels(target: dict[str, Any]) -> set[str]:
    """The labels a person tells a target's series apart by: its legend, or a table's columns."""
    if target.get("format") == "table":  # one column per label the outer aggregation keeps
        grouped = re.match(r"\s*\w+\s+by\s*\(([^)]*)\)", target["expr"])
        return {label.strip() for label in grouped.group(1).split(",")} if grouped else set()
    return set(re.findall(r"{{\s*(\w+)\s*}}", target.get("legendFormat", "")))


def _explorer_links(panel: dict[str, Any]) -> list[str]:
    links = panel["fieldConfig"]["defaults"].get("links", [])
    return [link["url"] for link in links if "/ui/models/" in link["url"]]


def test_every_per_model_panel_links_to_the_models_explorer_page() -> None:
    per_model = [p for p in PANELS if any("model" in _series_labels(t) for t in p["targets"])]
    titles = {p["title"] for p in per_model}
    assert {"Loaded versions", "NFE per sample p50 / p95 vs golden baseline"} <= titles  # tables too
    for panel in per_model:
        model = MODEL_IN_LINK.get(panel["type"], "${__field.labels.model}")
        assert _explorer_links(panel) == [EXPLORER + model], panel["title"]
    others = [p["title"] for p in PANELS if p not in per_model and _explorer_links(p)]
    assert others == [], "a panel without a model label cannot link to a model's page"


def test_the_explorer_links_start_at_a_variable_defaulting_to_the_compose_port() -> None:
    variables = {v["name"]: v for v in BOARD["templating"]["list"]}
    url = variables["odeserve_url"]
    lb_ports = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["lb"]["ports"]
    [api_port] = [p.split(":")[0] for p in lb_ports if p.count(":") == 1]  # the one on every interface
    assert url["type"] == "textbox"  # editable on the dashboard where the service is elsewhere
    assert url["query"] == url["current"]["value"] == f"http://localhost:{api_port}"
    assert [link["url"] for link in BOARD["links"]] == ["${odeserve_url}/ui/"]


def test_the_links_name_pages_the_service_serves() -> None:
    paths = {getattr(route, "path", None) for router in ROUTERS for route in router.routes}
    assert {"/ui/", "/ui/models/{name}"} <= paths
