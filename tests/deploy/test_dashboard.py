"""deploy/grafana: the provisioned dashboard is valid JSON and every panel queries our Prometheus."""

from __future__ import annotations

import json

from prometheus_harness import DASHBOARD, DEPLOY

DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PANELS = json.loads(DASHBOARD.read_text())["panels"]


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
