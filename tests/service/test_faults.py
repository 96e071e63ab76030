"""Faults against a real ``python -m service`` that polls its store: the store removed or unreadable
while serving (loaded versions keep serving; the error is logged and counted), files changed after
load (out of service until they verify again), and SIGTERM with a request in flight."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_process import ServiceProcess, metric_value, service_process

from models_store import WEIGHTS_FILE

PREDICT = "/v1/models/{}/predict"
POINT = [0.5, -0.25]
STORE_ERRORS = "odeserve_store_errors_total"


@pytest.fixture(scope="module")
def root(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store-faults") / "store"
    shutil.copytree(store_template, root)
    return root


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("faults-log") / "service.log"
    with service_process(root, log, poll_interval=0.1) as running:
        yield running


def _eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server did not notice the change in time"
        time.sleep(0.05)


def _predict(client: httpx.Client, model: str = "moons-node", ref: str | None = None) -> httpx.Response:
    url = PREDICT.format(model) if ref is None else f"/v1/models/{model}/versions/{ref}/predict"
    return client.post(url, json={"inputs": [POINT]})


def _still_serving(client: httpx.Client) -> None:
    assert _predict(client).status_code == 200
    assert len(client.get("/v1/models").json()["models"]) == 4
    assert client.get("/readyz").status_code == 200


def _store_fault_seen(server: ServiceProcess, errors_before: float) -> None:
    # A poll already past listing the store when it went fails per model ("cannot refresh model");
    # the next one fails on the store itself, which is the record we wait for.
    def store_error_logged() -> bool:
        return any(
            r["level"] == "warning" and "cannot read the model store" in r["message"]
            for r in server.log_records()
        )

    _eventually(store_error_logged)
    _eventually(
        lambda: metric_value(server.client, STORE_ERRORS) >= errors_before + 1
    )  # counted after the log
    _still_serving(server.client)


def _recovered(server: ServiceProcess) -> None:
    time.sleep(0.3)  # a few polls on the restored store
    errors = metric_value(server.client, STORE_ERRORS)
    time.sleep(0.3)
    assert metric_value(server.client, STORE_ERRORS) == errors  # no new errors
    _still_serving(server.client)


def test_store_removed_while_serving(server: ServiceProcess, root: Path) -> None:
    before = metric_value(server.client, STORE_ERRORS)
    moved = root.with_name("store-moved-away")
    root.rename(moved)
    try:
        _store_fault_seen(server, before)
    finally:
        moved.rename(root)
    _recovered(server)


def _replace_by_a_file(root: Path) -> Callable[[], None]:
    """Under root, chmod 000 does not stop reads: a file where the folder was is unreadable as a store."""
    moved = root.with_name("store-aside")
    root.rename(moved)
    root.write_text("not a store")

    def restore() -> None:
        root.unlink()
        moved.rename(root)

    return restore


def _dangling_link(root: Path) -> Callable[[], None]:
    """A store path that resolves to nothing (a mount gone away); chmod 000 would not stop root."""
    moved = root.with_name("store-aside")
    root.rename(moved)
    root.symlink_to(root.with_name("nowhere"))

    def restore() -> None:
        root.unlink()
        moved.rename(root)

    return restore


@pytest.mark.parametrize(
    "make_unreadable",
    [
        _replace_by_a_file,
        _dangling_link,
    ],
    ids=["replaced-by-a-file", "dangling-link"],
)
def test_store_unreadable_while_serving(
    server: ServiceProcess, root: Path, make_unreadable: Callable[[Path], Callable[[], None]]
) -> None:
    before = metric_value(server.client, STORE_ERRORS)
    restore = make_unreadable(root)
    try:
        _store_fault_seen(server, before)
    finally:
        restore()
    _recovered(server)


def _flip_last_byte_keeping_mtime(path: Path) -> None:
    """Change a byte in place and put the old mtime back (what a careful tamperer would do)."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0x01]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _status_of(client: httpx.Client, model: str, version: int) -> str:
    return client.get(f"/v1/models/{model}/versions/{version}").json()["status"]


def test_a_version_changed_after_load_is_not_served_until_it_verifies(
    server: ServiceProcess, root: Path
) -> None:
    client = server.client
    assert _predict(client, ref="1").status_code == 200
    weights = root / "moons-node" / "1" / WEIGHTS_FILE
    _flip_last_byte_keeping_mtime(weights)  # no admin reload: the poller must notice by itself
    _eventually(lambda: _status_of(client, "moons-node", 1) == "failed")
    r = _predict(client, ref="1")
    assert r.status_code == 503 and r.json()["error"]["type"] == "version_unavailable"
    assert WEIGHTS_FILE in r.json()["error"]["message"]
    assert _predict(client, ref="stable").status_code == 503  # the alias points at it
    assert _predict(client).status_code == 200  # the other versions keep serving
    _flip_last_byte_keeping_mtime(weights)  # the original bytes again: it verifies, it serves again
    _eventually(lambda: _status_of(client, "moons-node", 1) == "loaded")
    assert _predict(client, ref="1").status_code == 200


def test_sigterm_drains_finishes_the_request_in_flight_and_exits_0(
    store_template: Path, tmp_path: Path
) -> None:
    slow = {"inputs": [POINT], "solver": {"method": "euler", "step_size": 1 / 25_000, "max_steps": 30_000}}
    with service_process(
        store_template,
        tmp_path / "service.log",
        env={"ODESERVE_DRAIN_GRACE_S": "1.0", "ODESERVE_MAX_STEPS_CAP": "30000"},
    ) as running:
        client = running.client
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(client.post, PREDICT.format("moons-node"), json=slow)  # ~2.5 s
            time.sleep(0.3)
            sent = time.monotonic()
            running.proc.send_signal(signal.SIGTERM)
            with httpx.Client(base_url=str(client.base_url), timeout=5) as probe:
                ready = probe.get("/readyz")  # a new connection, during the grace period
            assert ready.status_code == 503 and ready.json()["draining"] is True
            answer = in_flight.result(timeout=60)
        assert answer.status_code == 200 and answer.json()["nfe"] == [25_000]
        assert running.proc.wait(timeout=30) == 0
        assert time.monotonic() - sent < 40  # the shutdown bound: request timeout + 5 s, with slack
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{client.base_url}/healthz", timeout=2)
        messages = [r["message"] for r in running.log_records()]
        assert any("SIGTERM" in m for m in messages) and "Application shutdown complete." in messages
