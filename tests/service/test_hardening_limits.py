"""Bounded work over a real server: the max_steps cap, the per-request deadline (504, the solve
stopped) and a full queue (503 + Retry-After at once, accepted work completes, then recovery)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from live_server import live_server

PREDICT = "/v1/models/moons-node/predict"
TRAJECTORY = "/v1/models/moons-node/trajectory"
CAP = 1_000_000
TIMEOUT_S = 2.0
LIMITS = {
    "ODESERVE_MAX_STEPS_CAP": str(CAP),
    "ODESERVE_MIN_TOLERANCE": "1e-13",
    "ODESERVE_REQUEST_TIMEOUT_S": str(TIMEOUT_S),
    "ODESERVE_MAX_QUEUE": "16",
    # the old door: at most 5 solve requests inside, the rest refused at once (no line)
    "ODESERVE_MAX_INFLIGHT": "5",
    "ODESERVE_ADMISSION_WAIT_MS": "0",
}
QUICK = {"inputs": [[0.5, -0.25]]}


def euler(step: float, inputs: int = 1, max_steps: int = CAP) -> dict:
    """A request whose cost is known: 1/step Euler steps per input (about 0.1 ms each here)."""
    return {
        "inputs": [[0.5, -0.25]] * inputs,
        "solver": {"method": "euler", "step_size": step, "max_steps": max_steps},
    }


@pytest.fixture(scope="module")
def server(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("store-limits") / "store"
    shutil.copytree(store_template, root)
    with live_server(root, env=LIMITS) as client:
        yield client


def _timed(client: httpx.Client, url: str, body: dict) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.post(url, json=body)
    return response, time.perf_counter() - started


def test_max_steps_over_the_cap_is_refused(server: httpx.Client) -> None:
    r = server.post(PREDICT, json={**QUICK, "solver": {"max_steps": CAP + 1}})
    assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"
    assert f"at most {CAP}" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {
            "inputs": [[0.1, 0.2]] * 8,
            "solver": {"method": "dopri5", "rtol": 1e-12, "atol": 1e-12, "max_steps": 5},
        },
        euler(1e-7),  # ten million steps needed: refused before any work
    ],
    ids=["tight-tolerance", "fixed-grid-over-the-cap"],
)
def test_a_request_over_its_step_budget_fails_fast(server: httpx.Client, body: dict) -> None:
    r = server.post(PREDICT, json=body)
    assert r.status_code == 422 and r.json()["error"]["type"] == "step_limit_exceeded", r.text
    assert "max_steps" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "url, extra", [(PREDICT, {}), (TRAJECTORY, {"num_points": 3})], ids=["predict", "trajectory"]
)
def test_the_deadline_answers_504_and_frees_the_solver(server: httpx.Client, url: str, extra: dict) -> None:
    r, seconds = _timed(server, url, {**euler(1e-6), **extra})  # ~100 s of work, were it not stopped
    assert r.status_code == 504, r.text
    error = r.json()["error"]
    assert error["type"] == "deadline_exceeded" and error["details"] == {"request_timeout_s": TIMEOUT_S}
    assert "fewer inputs" in error["message"] and "tolerances" in error["message"]
    assert seconds >= TIMEOUT_S - 0.1  # not before the deadline (and not after the ~100 s solve)
    # Were the abandoned solve still running, this would wait behind it for ~100 s and time out.
    quick = server.post(PREDICT, json=QUICK, timeout=TIMEOUT_S * 10)
    assert quick.status_code == 200


def test_a_full_queue_answers_503_at_once_and_accepted_requests_complete(server: httpx.Client) -> None:
    base = str(server.base_url)
    burst = {"inputs": [[0.5, -0.25]] * 4}

    def call(body: dict) -> tuple[int, float, str | None]:
        with httpx.Client(base_url=base, timeout=60) as client:
            r = client.post(PREDICT, json=body)
            return r.status_code, time.perf_counter(), r.headers.get("retry-after")

    with ThreadPoolExecutor(max_workers=33) as pool:
        blocker = pool.submit(call, euler(1 / 10000))  # holds the solver thread for ~1 s
        time.sleep(0.15)
        outcomes = list(pool.map(call, [burst] * 32))
        blocker_status, blocker_done, _ = blocker.result()
        assert blocker_status == 200
    statuses = [status for status, _, _ in outcomes]
    assert set(statuses) == {200, 503}, statuses  # the queue holds 16 samples: 4 such requests
    refused = [(done, retry) for status, done, retry in outcomes if status == 503]
    assert all(retry is not None and int(retry) >= 1 for _, retry in refused)
    # refused at once: every refusal came back while the blocker still held the solver
    assert max(done for done, _ in refused) < blocker_done
    recovered = server.post(PREDICT, json=burst)
    assert recovered.status_code == 200
    assert server.get("/readyz").status_code == 200


def test_a_body_that_cannot_be_decoded_is_a_validation_error(server: httpx.Client) -> None:
    r = server.post(PREDICT, content=b"S\xff;\x18S[", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"
    assert r.json()["error"]["details"][0]["type"] == "json_invalid"


def test_a_full_door_refuses_before_the_body_is_read(server: httpx.Client) -> None:
    """Under a storm a refusal must be cheap: with the door full (5 requests inside), even a body
    that is not JSON gets 503 overloaded (the admission check runs before parsing), not 422.

    The five seats are held by requests whose bodies never finish arriving: they stay inside for as
    long as their connections are open, so nothing races (slow solves finished too soon on a
    loaded machine, and the door was never seen full)."""
    url = httpx.URL(str(server.base_url))
    head = (
        f"POST {PREDICT} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{"
    ).encode()
    garbage = {"content": b"not json", "headers": {"Content-Type": "application/json"}}
    holders = [socket.create_connection((url.host, url.port), timeout=10) for _ in range(5)]
    try:
        for holder in holders:
            holder.sendall(head)  # the headers and 1 byte of 100: the server waits for the rest
        statuses = _until(lambda: server.post(PREDICT, **garbage).status_code, 503)
        assert set(statuses) <= {422, 503}, statuses
        answer = server.post(PREDICT, **garbage)  # still full: refused at once, said so
        assert answer.status_code == 503 and answer.json()["error"]["type"] == "overloaded"
        assert int(answer.headers["retry-after"]) >= 1
    finally:
        for holder in holders:
            holder.close()
    # the holders' connections closed, their seats are free: parsed as usual
    assert _until(lambda: server.post(PREDICT, **garbage).status_code, 422)[-1] == 422


def _until(call: Callable[[], int], status: int, timeout_s: float = 10.0) -> list[int]:
    """The statuses ``call`` answered until it answered ``status`` (or the time ran out)."""
    statuses: list[int] = []
    deadline = time.monotonic() + timeout_s
    while status not in statuses and time.monotonic() < deadline:
        statuses.append(call())
        if statuses[-1] != status:
            time.sleep(0.01)
    assert statuses[-1] == status, statuses
    return statuses


def test_a_storm_waits_in_line_instead_of_being_refused(store_template: Path, tmp_path: Path) -> None:
    """With a line (ODESERVE_ADMISSION_WAIT_MS), 24 requests against a door of 2 and a queue of 8
    samples all get 200: they wait their turn instead of being refused while a slow one solves."""
    root = tmp_path / "store"
    shutil.copytree(store_template, root)
    env = {**LIMITS, "ODESERVE_MAX_INFLIGHT": "2", "ODESERVE_MAX_QUEUE": "8",
           "ODESERVE_ADMISSION_WAIT_MS": "5000"}  # fmt: skip
    with live_server(root, env=env) as client:
        base = str(client.base_url)

        def call(body: dict) -> int:
            with httpx.Client(base_url=base, timeout=60) as one:
                return one.post(PREDICT, json=body).status_code

        with ThreadPoolExecutor(max_workers=25) as pool:
            blocker = pool.submit(call, euler(1 / 5000))  # holds the solver thread for ~0.5 s
            time.sleep(0.1)
            statuses = list(pool.map(call, [{"inputs": [[0.5, -0.25]] * 4}] * 24))
            assert blocker.result() == 200
        assert statuses == [200] * 24
        metrics = client.get("/metrics").text
        assert 'status="503"' not in metrics


def test_a_line_that_waits_in_vain_is_refused_with_retry_after(store_template: Path, tmp_path: Path) -> None:
    """Waiting is bounded: while one request holds the only place for ~1 s, others wait 100 ms in
    line, then get 503 + Retry-After; the one inside still completes."""
    root = tmp_path / "store"
    shutil.copytree(store_template, root)
    env = {**LIMITS, "ODESERVE_MAX_INFLIGHT": "1", "ODESERVE_ADMISSION_WAIT_MS": "100"}
    with live_server(root, env=env) as client:
        base = str(client.base_url)

        def call(body: dict) -> tuple[int, str | None, float]:
            with httpx.Client(base_url=base, timeout=60) as one:
                r = one.post(PREDICT, json=body)
                return r.status_code, r.headers.get("retry-after"), time.perf_counter()

        with ThreadPoolExecutor(max_workers=4) as pool:
            blocker = pool.submit(call, euler(1 / 10000))  # ~1 s inside
            time.sleep(0.15)
            refused = list(pool.map(call, [QUICK] * 3))
            status, _, blocker_done = blocker.result()
        assert status == 200
        assert [s for s, _, _ in refused] == [503] * 3
        assert all(retry is not None and int(retry) >= 1 for _, retry, _ in refused)
        assert max(done for _, _, done in refused) < blocker_done  # refused while it still held the place
        assert client.post(PREDICT, json=QUICK).status_code == 200
