"""Hot reload over a real server that polls its store: new versions, alias moves, tampering, removal."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fixture_store import publish
from live_server import ADMIN_KEY, live_server

from models_store import WEIGHTS_FILE, ModelStore

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
