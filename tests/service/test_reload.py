"""Hot reload over a real server that polls its store: new versions, alias moves, tampering, removal;
and over a replica of two workers, where an admin reload or a poll must reach both."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fixture_store import publish
from live_server import ADMIN_KEY, live_server
from prometheus_client.mmap_dict import MmapedDict
from service_process import ServiceProcess, service_process

from models_store import WEIGHTS_FILE, ModelStore
from service.lifecycle.reload_signal import ACK_TIMEOUT_S
from service.telemetry.multiprocess import written_metric_files

POINT = [0.5, -0.25]
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(scope="module")
def store(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    root = tmp_path_factory.mktemp("store-reload") / "store"
    shutil.copytree(store_template, root)
    return ModelStore(root)


@pytest.fixture(scope="module")
def server(store: ModelStore) -> Iterator[httpx.Client]:
    with live_server(store.root, poll_interval=0.2) as client:
        yield client


def _eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server did not pick up the change in time"
        time.sleep(0.1)


def _predict(server: httpx.Client, model: str, ref: str | None = None) -> httpx.Response:
    url = f"/v1/models/{model}/predict" if ref is None else f"/v1/models/{model}/versions/{ref}/predict"
    return server.post(url, json={"inputs": [POINT]})


def test_poller_serves_a_newly_published_version(server: httpx.Client, store: ModelStore) -> None:
    assert _predict(server, "moons-node").json()["version"] == 2
    publish(store, "moons-node", seed=30)
    _eventually(lambda: _predict(server, "moons-node").json()["version"] == 3)
    assert [v["status"] for v in server.get("/v1/models/moons-node").json()["versions"]] == ["loaded"] * 3


def test_poller_follows_an_alias_move(server: httpx.Client, store: ModelStore) -> None:
    assert _predict(server, "moons-node", "stable").json()["version"] == 1
    store.set_alias("moons-node", "stable", 2)
    _eventually(lambda: _predict(server, "moons-node", "stable").json()["version"] == 2)
    assert server.get("/v1/models/moons-node").json()["aliases"]["stable"] == 2


def test_admin_reload_serves_a_new_version_at_once(server: httpx.Client, store: ModelStore) -> None:
    version = publish(store, "circles-anode", seed=31).version
    report = server.post("/v1/admin/reload", headers=ADMIN)
    assert report.status_code == 200, report.text
    assert (report.json()["workers"], report.json()["workers_applied"]) == (1, 1)  # the only worker
    assert _predict(server, "circles-anode").json()["version"] == version  # no waiting for the poller


def test_admin_reload_reports_an_alias_move(server: httpx.Client, store: ModelStore) -> None:
    server.post("/v1/admin/reload", headers=ADMIN)
    store.set_alias("circles-anode", "canary", 1)
    report = server.post("/v1/admin/reload", headers=ADMIN).json()
    if report["aliases_changed"] == []:  # the poller saw it first; the effect is what matters
        assert server.get("/v1/models/circles-anode").json()["aliases"]["canary"] == 1
    else:
        assert report["aliases_changed"] == ["circles-anode"]
    assert _predict(server, "circles-anode", "canary").json()["version"] == 1


def test_an_unchanged_version_is_not_reloaded(server: httpx.Client, store: ModelStore) -> None:
    server.post("/v1/admin/reload", headers=ADMIN)
    os.utime(store.root / "moons-node" / "1" / WEIGHTS_FILE)  # new mtime, same bytes
    report = server.post("/v1/admin/reload", headers=ADMIN).json()
    assert report["loaded"] == [] and report["failed"] == []


def test_a_tampered_version_is_refused_while_the_others_keep_serving(
    server: httpx.Client, store: ModelStore
) -> None:
    assert _predict(server, "circles-anode", "1").status_code == 200
    weights = store.root / "circles-anode" / "1" / WEIGHTS_FILE
    with weights.open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0x01]))
    report = server.post("/v1/admin/reload", headers=ADMIN).json()
    detail = server.get("/v1/models/circles-anode").json()
    v1 = next(v for v in detail["versions"] if v["version"] == 1)
    assert v1["status"] == "failed" and WEIGHTS_FILE in v1["reason"] and "sha256" in v1["reason"]
    assert str(store.root) not in v1["reason"]  # the public reason names no server paths
    assert report["failed"] == [] or report["failed"][0]["model"] == "circles-anode"  # or the poller saw it
    r = _predict(server, "circles-anode", "1")
    assert r.status_code == 503 and r.json()["error"]["type"] == "version_unavailable"
    assert _predict(server, "circles-anode", "canary").status_code == 503
    assert _predict(server, "circles-anode").status_code == 200  # the newer version still serves
    assert _predict(server, "moons-node").status_code == 200
    assert server.get("/readyz").status_code == 200


def test_a_published_version_failing_its_self_test_is_shown_failed(
    server: httpx.Client, store: ModelStore
) -> None:
    version = publish(store, "digits-anode", seed=32, bad_golden=True).version
    server.post("/v1/admin/reload", headers=ADMIN)
    detail = server.get("/v1/models/digits-anode").json()
    assert detail["versions"][-1]["status"] == "failed" and "golden" in detail["versions"][-1]["reason"]
    assert _predict(server, "digits-anode").status_code == 503  # latest is the failed one
    older = server.post("/v1/models/digits-anode/versions/1/predict", json={"inputs": [[0.0] * 64]})
    assert older.status_code == 200
    assert detail["latest_version"] == version


def test_a_removed_model_is_no_longer_served(server: httpx.Client, store: ModelStore) -> None:
    shutil.rmtree(store.root / "broken-node")
    report = server.post("/v1/admin/reload", headers=ADMIN).json()
    assert report["removed"] in ([], ["broken-node/1"])
    assert server.get("/v1/models/broken-node").status_code == 404


def test_a_corrupt_aliases_file_keeps_the_aliases_being_served(
    server: httpx.Client, store: ModelStore
) -> None:
    path = store.root / "moons-node" / "aliases.json"
    before = server.get("/v1/models/moons-node").json()["aliases"]
    good = path.read_bytes()
    path.write_text("{not json")
    try:
        reload = server.post("/v1/admin/reload", headers=ADMIN)
        assert reload.status_code == 200
        assert server.get("/v1/models/moons-node").json()["aliases"] == before
        assert _predict(server, "moons-node", "latest").status_code == 200
    finally:
        path.write_bytes(good)


# --- one replica, two workers -----------------------------------------------------------------------
# Which worker answered is read from the metrics folder the test gives the replica: every worker
# counts its answers, by model and version, in a file of its own (counter_<pid>.db).


@contextmanager
def _replica(template: Path, tmp_path: Path, poll_interval: float) -> Iterator[tuple[ServiceProcess, Path]]:
    """``python -m service --workers 2`` on a copy of the fixture store, with its metrics folder."""
    shutil.copytree(template, tmp_path / "store")
    metrics = tmp_path / "metrics"
    with service_process(
        tmp_path / "store",
        tmp_path / "service.log",
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics)},
        poll_interval=poll_interval,
        args=("--workers", "2"),
    ) as replica:
        yield replica, metrics


def _answers_by_worker(metrics: Path, model: str, version: int | None = None) -> dict[int, float]:
    """Per worker pid: the predict answers it counted for ``model`` (at ``version``, if given)."""
    answers: dict[int, float] = {}
    for path in written_metric_files(metrics):  # a worker's file is empty for an instant at its start
        if not path.name.startswith("counter_"):
            continue
        pid = int(path.stem.rpartition("_")[2])
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample != "odeserve_requests_total" or labels.get("model") != model:
                continue
            if version is None or labels.get("version") == str(version):
                answers[pid] = answers.get(pid, 0) + value
    return {pid: n for pid, n in answers.items() if n > 0}


def _burst(replica: ServiceProcess, model: str, ref: str | None = None, count: int = 40) -> list[int]:
    """``count`` predictions, four at a time, each on a fresh connection (so both workers answer)."""
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=replica.client.base_url, limits=fresh, timeout=60) as client:

        def one(_: int) -> int:
            answer = _predict(client, model, ref)
            assert answer.status_code == 200, answer.text
            return int(answer.json()["version"])

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(one, range(count)))


def _both_workers_serving(replica: ServiceProcess, metrics: Path, model: str) -> set[int]:
    """Predict until two workers have answered; their pids."""
    deadline = time.monotonic() + 60
    while len(pids := set(_answers_by_worker(metrics, model))) < 2:
        assert time.monotonic() < deadline, f"one worker answered everything: {pids}"
        _burst(replica, model, count=8)
    return pids


def test_one_admin_reload_reaches_every_worker_with_polling_off(store_template: Path, tmp_path: Path) -> None:
    with _replica(store_template, tmp_path, poll_interval=0) as (replica, metrics):
        workers = _both_workers_serving(replica, metrics, "moons-node")
        store = ModelStore(tmp_path / "store")
        version = publish(store, "moons-node", seed=40).version
        time.sleep(1)  # polling is off: nothing but the reload may pick it up
        assert set(_burst(replica, "moons-node", count=8)) == {2}

        report = replica.client.post("/v1/admin/reload", headers=ADMIN)
        assert report.status_code == 200, report.text
        assert report.json()["loaded"] == [f"moons-node/{version}"]
        assert (report.json()["workers"], report.json()["workers_applied"]) == (2, 2)
        assert set(_burst(replica, "moons-node")) == {version}
        assert set(_answers_by_worker(metrics, "moons-node", version)) == workers  # each answered with it

        store.set_alias("moons-node", "stable", version)  # the generation moves again: a second reload
        report = replica.client.post("/v1/admin/reload", headers=ADMIN)
        assert report.json()["aliases_changed"] == ["moons-node"] and report.json()["workers_applied"] == 2
        assert set(_burst(replica, "moons-node", "stable")) == {version}


def test_a_dead_worker_does_not_hold_an_admin_reload(store_template: Path, tmp_path: Path) -> None:
    with _replica(store_template, tmp_path, poll_interval=0) as (replica, metrics):
        victim, survivor = sorted(_both_workers_serving(replica, metrics, "moons-node"))
        os.kill(victim, signal.SIGKILL)  # uvicorn's supervisor starts another in its place
        version = publish(ModelStore(tmp_path / "store"), "moons-node", seed=41).version
        # a fresh connection: a kept-alive one may have been the victim's, and died with it
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=replica.client.base_url, limits=fresh, timeout=60) as client:
            started = time.monotonic()
            report = client.post("/v1/admin/reload", headers=ADMIN)
            assert report.status_code == 200, report.text
            assert time.monotonic() - started < ACK_TIMEOUT_S  # the dead one was not waited for
            assert report.json()["workers_applied"] == report.json()["workers"] >= 1
            assert _predict(client, "moons-node").json()["version"] == version


def test_a_poll_reaches_every_worker_within_two_intervals(store_template: Path, tmp_path: Path) -> None:
    interval = 2.0  # the default
    with _replica(store_template, tmp_path, poll_interval=interval) as (replica, metrics):
        workers = _both_workers_serving(replica, metrics, "circles-anode")
        version = publish(ModelStore(tmp_path / "store"), "circles-anode", seed=42).version
        time.sleep(2 * interval)
        assert set(_burst(replica, "circles-anode")) == {version}
        assert set(_answers_by_worker(metrics, "circles-anode", version)) == workers
