"""service.telemetry.metrics: values read back from an injected registry; multiprocess mode too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from service.http.request_metrics import MetricsMiddleware
from service.telemetry.labels import UNMATCHED, label_served
from service.telemetry.metrics import Metrics, ServedVersion
from service.telemetry.multiprocess import MULTIPROC_ENV, mark_worker_dead, prepare_multiprocess_dir

MOONS = ServedVersion("moons", "1", "node", "dopri5", 26.0)
CIRCLES = ServedVersion("circles", "2", "anode", "dopri5", 32.5)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(autouse=True)
def _private_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare_multiprocess_dir sets the variable for the workers; keep that out of later tests."""
    monkeypatch.setattr(os, "environ", os.environ.copy())


@pytest.fixture
def metrics(registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch) -> Metrics:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    return Metrics(registry)


def test_observe_request_counts_and_times(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.observe_request("moons", "1", "/v1/models/{name}/predict", 200, 0.003)
    metrics.observe_request("moons", "1", "/v1/models/{name}/predict", 200, 0.2)
    metrics.observe_request("", "", "/v1/models/{name}/predict", 404, 0.001)

    ok = {"model": "moons", "version": "1", "endpoint": "/v1/models/{name}/predict"}
    assert registry.get_sample_value("odeserve_requests_total", {**ok, "status": "200"}) == 2
    assert registry.get_sample_value("odeserve_request_duration_seconds_count", ok) == 2
    assert registry.get_sample_value("odeserve_request_duration_seconds_sum", ok) == pytest.approx(0.203)
    assert registry.get_sample_value("odeserve_request_duration_seconds_bucket", {**ok, "le": "0.005"}) == 1
    assert (
        registry.get_sample_value(
            "odeserve_requests_total", {**ok, "model": "", "version": "", "status": "404"}
        )
        == 1
    )


def test_observe_solve_records_samples_steps_batch_and_wait(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    metrics.observe_solve(
        "moons",
        "1",
        "dopri5",
        nfe=[26, 32, 200],
        accepted=[4, 5, 30],
        rejected=[0, 0, 3],
        queue_waits=[0.002],
    )

    solve = {"model": "moons", "version": "1", "method": "dopri5"}
    value = registry.get_sample_value
    assert value("odeserve_sample_nfe_count", solve) == 3
    assert value("odeserve_sample_nfe_sum", solve) == 258
    assert value("odeserve_sample_nfe_bucket", {**solve, "le": "32.0"}) == 2
    assert value("odeserve_solver_steps_total", {**solve, "outcome": "accepted"}) == 39
    assert value("odeserve_solver_steps_total", {**solve, "outcome": "rejected"}) == 3
    assert value("odeserve_batch_size_sum", solve) == 3
    assert value("odeserve_queue_wait_seconds_count", solve) == 1


def test_observe_solve_leaves_unknown_step_counts_uncounted(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """torchdiffeq's answers carry None for their steps: counted as 0 they would read as "no steps"."""
    metrics.observe_solve(
        "moons", "1", "dopri8", nfe=[80, 80], accepted=None, rejected=None, queue_waits=[0.0]
    )
    solve = {"model": "moons", "version": "1", "method": "dopri8"}
    assert registry.get_sample_value("odeserve_sample_nfe_count", solve) == 2
    assert registry.get_sample_value("odeserve_solver_steps_total", {**solve, "outcome": "accepted"}) == 0


def test_observe_solve_rejects_lists_of_different_lengths(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="one entry per sample"):
        metrics.observe_solve(
            "moons", "1", "dopri5", nfe=[26, 32], accepted=[4], rejected=[0, 0], queue_waits=[]
        )


def test_track_in_flight_counts_while_inside_even_on_error(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    with metrics.track_in_flight():
        assert registry.get_sample_value("odeserve_in_flight_requests") == 1
    with pytest.raises(KeyError), metrics.track_in_flight():
        raise KeyError
    assert registry.get_sample_value("odeserve_in_flight_requests") == 0


def test_set_loaded_versions_publishes_and_withdraws(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.set_loaded_versions([MOONS, CIRCLES])
    metrics.set_loaded_versions([CIRCLES])

    def info(v: ServedVersion) -> float | None:
        labels = {"model": v.model, "version": v.version, "family": v.family, "method": v.method}
        return registry.get_sample_value("odeserve_model_version_info", labels)

    def baseline(v: ServedVersion) -> float | None:
        labels = {"model": v.model, "version": v.version, "method": v.method}
        return registry.get_sample_value("odeserve_golden_nfe_baseline", labels)

    assert (info(CIRCLES), baseline(CIRCLES)) == (1, 32.5)
    assert (info(MOONS), baseline(MOONS)) == (None, None)
    # the default method's series exist at zero before the first request, so rate() sees it
    solve = {"model": "circles", "version": "2", "method": "dopri5"}
    assert registry.get_sample_value("odeserve_sample_nfe_count", solve) == 0
    assert registry.get_sample_value("odeserve_solver_steps_total", {**solve, "outcome": "rejected"}) == 0


def test_count_load_failure(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.count_load_failure("moons", "3")
    labels = {"model": "moons", "version": "3"}
    assert registry.get_sample_value("odeserve_model_load_failures_total", labels) == 1


def test_names_follow_prometheus_conventions(metrics: Metrics, registry: CollectorRegistry) -> None:
    families = {family.name: family.type for family in registry.collect()}
    assert all(name.startswith("odeserve_") for name in families)
    counters = [n for n, t in families.items() if t == "counter"]
    assert sorted(counters) == [
        "odeserve_model_load_failures",
        "odeserve_requests",
        "odeserve_solver_steps",
        "odeserve_store_errors",
    ]
    assert "odeserve_request_duration_seconds" in families and "odeserve_queue_wait_seconds" in families


def test_metrics_stay_out_of_the_global_registry(metrics: Metrics, registry: CollectorRegistry) -> None:
    second = Metrics(CollectorRegistry())  # a second app in the same process does not clash
    metrics.observe_request("moons", "1", "/healthz", 200, 0.001)
    second.observe_request("moons", "1", "/healthz", 200, 0.001)
    labels = {"model": "moons", "version": "1", "endpoint": "/healthz", "status": "200"}
    assert registry.get_sample_value("odeserve_requests_total", labels) == 1
    assert REGISTRY.get_sample_value("odeserve_requests_total", labels) is None


def test_render_single_process_is_parseable_text(metrics: Metrics) -> None:
    metrics.observe_request("moons", "1", "/healthz", 200, 0.001)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"odeserve_requests", "odeserve_sample_nfe", "odeserve_in_flight_requests"} <= names


# --- the middleware ----------------------------------------------------------------------------


@pytest.fixture
def app(metrics: Metrics, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/v1/models/{name}/predict")
    def predict(name: str, request: Request) -> dict[str, float | None]:
        label_served(request.scope, name, "7")
        return {"in_flight": registry.get_sample_value("odeserve_in_flight_requests")}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unhandled")

    return app


def get(app: FastAPI, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return anyio.run(call)


def requests_total(registry: CollectorRegistry, *labels: str) -> float | None:
    names = ("model", "version", "endpoint", "status")
    return registry.get_sample_value("odeserve_requests_total", dict(zip(names, labels, strict=True)))


def test_middleware_labels_by_route_and_served_version(app: FastAPI, registry: CollectorRegistry) -> None:
    assert get(app, "/v1/models/moons/predict").json() == {"in_flight": 1}
    assert requests_total(registry, "moons", "7", "/v1/models/{name}/predict", "200") == 1
    assert registry.get_sample_value("odeserve_in_flight_requests") == 0


def test_middleware_counts_unmatched_paths_and_errors(app: FastAPI, registry: CollectorRegistry) -> None:
    assert get(app, "/no/such/path").status_code == 404
    assert get(app, "/boom").status_code == 500
    assert requests_total(registry, "", "", UNMATCHED, "404") == 1
    assert requests_total(registry, "", "", "/boom", "500") == 1


# --- multiprocess mode -------------------------------------------------------------------------


def test_prepare_multiprocess_dir_cleans_stale_files_and_sets_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    (tmp_path / "counter_4242.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")

    assert prepare_multiprocess_dir(tmp_path, workers=2) == tmp_path
    assert os.environ[MULTIPROC_ENV] == str(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_prepare_multiprocess_dir_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    assert prepare_multiprocess_dir(None, workers=1) is None
    assert MULTIPROC_ENV not in os.environ

    fresh = prepare_multiprocess_dir(None, workers=2)
    assert fresh is not None and fresh.is_dir() and os.environ[MULTIPROC_ENV] == str(fresh)

    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))  # set by the operator before the start
    assert prepare_multiprocess_dir(None, workers=1) == tmp_path


def test_prepare_multiprocess_dir_refuses_a_folder_it_cannot_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with pytest.raises(ValueError, match="one worker"):  # this process already chose in-memory values
        prepare_multiprocess_dir(tmp_path, workers=1)


def test_metrics_refuse_an_env_set_after_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="after prometheus_client was imported"):
        Metrics(CollectorRegistry())


WORKER = textwrap.dedent("""
    import sys
    from prometheus_client import CollectorRegistry
    from service.telemetry.metrics import ServedVersion, Metrics

    metrics = Metrics(CollectorRegistry())
    metrics.set_loaded_versions([ServedVersion("moons", "1", "node", "dopri5", 26.0)])
    for _ in range(int(sys.argv[1])):
        metrics.observe_request("moons", "1", "/v1/models/{name}/predict", 200, 0.01)
        metrics.observe_solve("moons", "1", "dopri5", [26, 40], [4, 6], [0, 1], [0.001])
    with metrics.track_in_flight():
        print("ready", flush=True)
        sys.stdin.readline()
""")

COLLECTOR = textwrap.dedent("""
    import sys
    from prometheus_client import CollectorRegistry
    from service.telemetry.metrics import Metrics

    sys.stdout.write(Metrics(CollectorRegistry()).render()[0].decode())
""")


def _python(code: str, env: dict[str, str], *args: str, **popen) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=REPO, text=True, **popen)


def _collect(env: dict[str, str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out, _ = _python(COLLECTOR, env, stdout=subprocess.PIPE).communicate(timeout=60)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(out)
        for s in family.samples
    }


def test_multiprocess_two_workers_are_summed_and_dead_workers_drop_out(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path), "PYTHONPATH": str(REPO)}
    workers = [_python(WORKER, env, str(n), stdin=subprocess.PIPE, stdout=subprocess.PIPE) for n in (3, 5)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    (tmp_path / "counter_999999.db").write_bytes(b"")  # a third worker starting: its file not yet sized

    live = _collect(env)
    predict = (
        ("endpoint", "/v1/models/{name}/predict"),
        ("model", "moons"),
        ("status", "200"),
        ("version", "1"),
    )
    solve = (("method", "dopri5"), ("model", "moons"), ("version", "1"))
    info = (("family", "node"), ("method", "dopri5"), ("model", "moons"), ("version", "1"))
    assert live["odeserve_requests_total", predict] == 8
    assert live["odeserve_sample_nfe_count", solve] == 16
    assert live["odeserve_solver_steps_total", (*solve[:2], ("outcome", "rejected"), solve[2])] == 8
    assert live["odeserve_in_flight_requests", ()] == 2  # livesum
    assert live["odeserve_model_version_info", info] == 1  # livemax: one series, no pid label
    assert live["odeserve_golden_nfe_baseline", solve] == 26.0

    for worker in workers:
        worker.communicate("\n", timeout=60)
    after = _collect(env)
    assert after["odeserve_requests_total", predict] == 8  # counters of exited workers remain
    assert after["odeserve_in_flight_requests", ()] == 0  # their live gauges are dropped
    assert ("odeserve_model_version_info", info) not in after


def test_mark_worker_dead_removes_only_live_gauge_files(tmp_path: Path) -> None:
    for name in ("gauge_livesum_77.db", "gauge_livemax_77.db", "counter_77.db", "gauge_livesum_78.db"):
        (tmp_path / name).write_bytes(b"")
    mark_worker_dead(77, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_77.db", "gauge_livesum_78.db"]
