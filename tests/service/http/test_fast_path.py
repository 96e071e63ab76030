"""service.http.fast_path: predict and trajectory without FastAPI's machinery, with FastAPI's answers.

An app with the fast path and one without serve the same store on real sockets; every request
gets the same status, headers and bytes from both, and is counted under the same labels.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from live_server import threaded_server
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from service import Settings, create_app
from service.http.fast_path import SolveFastPath
from service.routes import predictions

POINT = [0.5, -0.25]
KEY = "fast-path-key"
PREDICT = "/v1/models/moons-node/predict"
TRAJECTORY = "/v1/models/moons-node/trajectory"
JSON = {"content-type": "application/json"}
VARYING = {"date", "x-request-id"}  # per answer, whichever app gives it
Servers = dict[bool, httpx.Client]


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _solver(**solver: Any) -> bytes:
    """One point with these solver overrides."""
    return _body({"inputs": [POINT], "solver": solver})


GOOD = _body({"inputs": [POINT]})
CASES = [  # (path, body, headers): what FastAPI would answer, the fast path must answer alike
    pytest.param(PREDICT, GOOD, JSON, id="latest"),
    pytest.param("/v1/models/moons-node/versions/1/predict", GOOD, JSON, id="version"),
    pytest.param("/v1/models/moons-node/versions/stable/predict", GOOD, JSON, id="alias"),
    pytest.param(
        "/v1/models/circles-anode/versions/latest/predict",
        _body({"inputs": [POINT, [1.0, 2.0]], "solver": {"method": "rk4", "step_size": 0.1}}),
        JSON,
        id="fixed-step-override",
    ),
    pytest.param(PREDICT, _solver(method="bosh3", rtol=1e-6, atol=1e-7), JSON, id="adaptive-override"),
    pytest.param(
        "/v1/models/digits-anode/predict", _body({"inputs": [[[[3.0] * 8] * 8]]}), JSON, id="nested-input"
    ),
    pytest.param(PREDICT, GOOD, {"content-type": "application/json; charset=utf-8"}, id="json-charset"),
    pytest.param(PREDICT, GOOD, {}, id="no-content-type"),
    pytest.param(PREDICT, GOOD, {"content-type": "text/plain"}, id="text-plain"),
    pytest.param(PREDICT, GOOD, {"content-type": "application/vnd.odeserve+json"}, id="json-suffix"),
    pytest.param(PREDICT, b"{inputs: oops", JSON, id="not-json"),
    pytest.param(PREDICT, b"", JSON, id="empty-body"),
    pytest.param(PREDICT, b"\xff\xfe\x00{", JSON, id="not-utf8"),
    pytest.param(PREDICT, b"null", JSON, id="json-null"),
    pytest.param(PREDICT, b'{"inputs": [[NaN, 1.0]]}', JSON, id="nan"),
    # where a JSON parser could disagree with FastAPI's json.loads: the answers must still be alike
    pytest.param(PREDICT, b'{"inputs": [[Infinity, -Infinity]]}', JSON, id="infinity"),
    pytest.param(PREDICT, b'{"inputs": [[1e400, 0.5]]}', JSON, id="float-overflow"),
    pytest.param(PREDICT, b'{"inputs": [[1, 2]], "inputs": [[0.5, -0.2]]}', JSON, id="duplicate-key"),
    pytest.param(PREDICT, b'{"inputs": [[1, 100000000000000000000000000000]]}', JSON, id="huge-int"),
    pytest.param(PREDICT, b'{"inputs": [["0.5", true]]}', JSON, id="string-and-bool-numbers"),
    pytest.param(
        PREDICT, b'{"inputs": [[0.5, -0.2]], "solver": {"max_steps": 50.0}}', JSON, id="int-as-float"
    ),
    pytest.param(PREDICT, b'\xef\xbb\xbf{"inputs": [[0.5, -0.2]]}', JSON, id="utf8-bom"),
    pytest.param(PREDICT, b' {"inputs": [[0.5, -0.2]]}\n\n', JSON, id="whitespace"),
    pytest.param(PREDICT, b'{"inputs": [[0.5, -0.2]]} x', JSON, id="trailing-garbage"),
    pytest.param(PREDICT, b'{"\\u0069nputs": [[0.5, -0.2]]}', JSON, id="escaped-key"),
    pytest.param(PREDICT, _body({"inputs": []}), JSON, id="no-inputs"),
    pytest.param(PREDICT, _body({"inputs": [POINT], "extra": 1}), JSON, id="extra-field"),
    pytest.param(PREDICT, _solver(rtol=2.0), JSON, id="rtol-out-of-bounds"),
    pytest.param(PREDICT, _solver(rtol=1e-12), JSON, id="rtol-below-server-min"),
    pytest.param(PREDICT, _solver(max_steps=10**9), JSON, id="max-steps-over-cap"),
    pytest.param(PREDICT, _body({"inputs": [[1.0, 2.0, 3.0]]}), JSON, id="wrong-input-shape"),
    pytest.param(PREDICT, _solver(method="leapfrog"), JSON, id="unknown-method"),
    pytest.param(PREDICT, _solver(rtol=1e-10, atol=1e-10, max_steps=1), JSON, id="step-limit"),
    pytest.param(PREDICT, _solver(method="rk4", step_size=0.1, max_steps=2), JSON, id="fixed-grid-too-long"),
    pytest.param("/v1/models/nope/predict", GOOD, JSON, id="unknown-model"),
    pytest.param("/v1/models/moons-node/versions/99/predict", GOOD, JSON, id="unknown-version"),
    pytest.param("/v1/models/moons-node/versions/nope/predict", GOOD, JSON, id="unknown-alias"),
    pytest.param("/v1/models/broken-node/predict", GOOD, JSON, id="failed-version"),
    pytest.param("/v1/models/Bad%20Name!/predict", GOOD, JSON, id="invalid-name"),
    pytest.param(PREDICT + "?debug=1", GOOD, JSON, id="query-string"),
    pytest.param(PREDICT + "/", GOOD, JSON, id="trailing-slash"),
    pytest.param(TRAJECTORY, _body({"inputs": [POINT], "num_points": 5}), JSON, id="trajectory"),
    pytest.param(
        "/v1/models/circles-anode/versions/latest/trajectory",
        _body({"inputs": [POINT, POINT], "times": [0.0, 0.5, 1.0], "solver": {"rtol": 1e-6}}),
        JSON,
        id="trajectory-times-alias",
    ),
    pytest.param(TRAJECTORY, _body({"inputs": [POINT], "times": [0.5, 0.1]}), JSON, id="trajectory-unsorted"),
    pytest.param(
        TRAJECTORY, _body({"inputs": [POINT], "times": [0.5], "num_points": 3}), JSON, id="both-times"
    ),
    pytest.param(TRAJECTORY, _body({"inputs": [POINT], "num_points": 10**6}), JSON, id="too-many-points"),
    pytest.param(TRAJECTORY, b"{oops", JSON, id="trajectory-not-json"),
    pytest.param("/v1/models/moons-node/versions/1/grid", GOOD, JSON, id="not-a-solve-route"),
]
KEY_CASES = [  # (key header, body); expected status where the key decides it
    pytest.param(None, GOOD, 401, id="missing-key"),
    pytest.param("", GOOD, 401, id="empty-key"),
    pytest.param("wrong", GOOD, 403, id="wrong-key"),
    pytest.param("ünïcode".encode(), GOOD, 403, id="non-ascii-key"),
    pytest.param(KEY, GOOD, 200, id="good-key"),
    pytest.param(None, _body({"inputs": "x"}), None, id="missing-key-invalid-body"),
    pytest.param(None, b"{oops", None, id="missing-key-not-json"),
    pytest.param("wrong", _body({"inputs": [[1.0]]}), 403, id="wrong-key-wrong-shape"),
    pytest.param(KEY, _body({"inputs": [[1.0]]}), 422, id="good-key-wrong-shape"),
]


@pytest.fixture(scope="module")
def store(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store-fast-path") / "store"
    shutil.copytree(store_template, root)
    return root


def _pair(store: Path, **settings: Any) -> Iterator[Servers]:
    """The same app with and without the fast path, each on its own socket."""
    with ExitStack() as stack:
        yield {
            fast: stack.enter_context(
                threaded_server(
                    create_app(Settings(store=store, poll_interval_s=0, fast_path=fast, **settings))
                )
            )
            for fast in (True, False)
        }


@pytest.fixture(scope="module")
def servers(store: Path) -> Iterator[Servers]:
    yield from _pair(store)


@pytest.fixture(scope="module")
def keyed_servers(store: Path) -> Iterator[Servers]:
    yield from _pair(store, api_key=KEY)


def _requests_counted(client: httpx.Client) -> dict[tuple[tuple[str, str], ...], float]:
    """odeserve_requests_total by label set, read over HTTP (the scrape itself left out)."""
    text = client.get("/metrics").text
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "odeserve_requests_total" and s.labels["endpoint"] != "/metrics"
    }


def _counted_once(before: dict[Any, float], after: dict[Any, float]) -> dict[str, str]:
    """The labels of the one series a request incremented."""
    grown = {
        labels: value - before.get(labels, 0)
        for labels, value in after.items()
        if value != before.get(labels, 0)
    }
    assert list(grown.values()) == [1], grown
    return dict(next(iter(grown)))


def _send_to_both(
    pair: Servers, path: str, body: bytes, headers: dict[str, str | bytes]
) -> tuple[httpx.Response, dict[bool, dict[str, str]]]:
    """Send one request to both apps; assert the answers agree; return one and each app's labels."""
    answers, labels = {}, {}
    for fast, client in pair.items():
        before = _requests_counted(client)
        answers[fast] = client.post(path, content=body, headers=headers)
        labels[fast] = _counted_once(before, _requests_counted(client))
    fast, slow = answers[True], answers[False]
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.content == slow.content
    assert _headers(fast, pair[True]) == _headers(slow, pair[False])
    assert "x-request-id" in fast.headers
    return fast, labels


def _headers(answer: httpx.Response, client: httpx.Client) -> dict[str, str]:
    """The headers that must not depend on the app (a redirect's Location names its own socket)."""
    base = str(client.base_url).rstrip("/")
    return {k: v.replace(base, "<server>") for k, v in answer.headers.items() if k not in VARYING}


@pytest.mark.parametrize("path, body, headers", CASES)
def test_same_answers_and_labels_as_fastapi(
    servers: Servers, path: str, body: bytes, headers: dict[str, str | bytes]
) -> None:
    """Byte for byte, on every branch: answered by the fast path, handed to FastAPI, or errors."""
    answer, labels = _send_to_both(servers, path, body, headers)
    assert labels[True] == labels[False]
    if answer.status_code == 200 and path.endswith("/predict"):
        assert answer.json()["predictions"]  # the good cases really were good


@pytest.mark.parametrize("key, body, status", KEY_CASES)
def test_same_api_key_checks_as_fastapi(
    keyed_servers: Servers, key: str | bytes | None, body: bytes, status: int | None
) -> None:
    """The fast path checks the key where FastAPI's router dependency does, in the same order."""
    headers = {**JSON, **({} if key is None else {"X-API-Key": key})}
    answer, labels = _send_to_both(keyed_servers, PREDICT, body, headers)
    assert labels[True] == labels[False]
    if status is not None:
        assert answer.status_code == status
    if answer.status_code == 401:
        assert answer.headers["www-authenticate"] == "ApiKey header=X-API-Key"


@pytest.mark.parametrize(
    "path, endpoint, version",
    [
        (PREDICT, "/v1/models/{name}/predict", "2"),
        (
            "/v1/models/moons-node/versions/stable/predict",
            "/v1/models/{name}/versions/{version}/predict",
            "1",
        ),
    ],
)
def test_fast_path_requests_are_counted_under_their_route(
    servers: Servers, path: str, endpoint: str, version: str
) -> None:
    """Dashboards keep working: the route template and the version that answered, as FastAPI labels them."""
    client = servers[True]
    before = _requests_counted(client)
    assert client.post(path, json={"inputs": [POINT]}).status_code == 200
    assert _counted_once(before, _requests_counted(client)) == {
        "model": "moons-node",
        "version": version,
        "endpoint": endpoint,
        "status": "200",
    }


class _Inner:
    """The app below the fast path: reads the whole body it is handed, answers 599."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.calls.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _call(
    app: FastAPI,
    layer: SolveFastPath,
    method: str,
    path: str,
    body: bytes,
    content_type: str = "application/json",
) -> list[Message]:
    """One request through ``layer`` as a server would send it (the body in two chunks)."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
        "app": app,
        "state": {},
    }
    half = len(body) // 2
    chunks: list[Message] = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await layer(scope, receive, send)
    return sent


def _through_fast_path(
    store: Path, method: str, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[list[Message], _Inner]:
    """What one request sent through SolveFastPath over a recording inner app answers, inside
    the lifespan of a real app (whose runtime is what the fast path serves from)."""
    app = create_app(Settings(store=store, poll_interval_s=0))
    inner = _Inner()

    async def run() -> list[Message]:
        async with app.router.lifespan_context(app):
            return await _call(
                app, SolveFastPath(inner, predictions.fast_routes()), method, path, body, content_type
            )

    return asyncio.run(run()), inner


@pytest.mark.parametrize(
    "path, status",
    [
        (PREDICT, 200),
        ("/v1/models/moons-node/versions/1/predict", 200),
        ("/v1/models/nope/predict", 404),
        (TRAJECTORY, 200),
        ("/v1/models/nope/versions/2/trajectory", 404),
    ],
)
def test_solves_are_answered_without_the_app_below(store: Path, path: str, status: int) -> None:
    """The point of the layer: a predict or trajectory (good, or an error of ours) never reaches
    FastAPI."""
    sent, inner = _through_fast_path(store, "POST", path, GOOD)
    assert inner.calls == []
    assert sent[0]["status"] == status
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert answer["model"] == "moons-node" if status == 200 else answer["error"]["type"] == "model_not_found"


@pytest.mark.parametrize(
    "method, path, body, content_type",
    [
        pytest.param("GET", "/healthz", b"", "application/json", id="other-route"),
        pytest.param("GET", PREDICT, b"", "application/json", id="get-predict"),
        pytest.param("POST", "/v1/models/moons-node/grid", GOOD, "application/json", id="grid"),
        pytest.param(
            "POST", TRAJECTORY, b'{"inputs": [[0.5]], "times": 3}', "application/json", id="bad-times"
        ),
        pytest.param("POST", PREDICT + "/", GOOD, "application/json", id="trailing-slash"),
        pytest.param("POST", PREDICT, b'{"inputs": [[0.5, oops', "application/json", id="not-json"),
        pytest.param("POST", PREDICT, _solver(rtol=2.0), "application/json", id="fails-validation"),
        pytest.param("POST", PREDICT, GOOD, "text/plain", id="text-plain"),
        pytest.param("POST", PREDICT, b"", "application/json", id="empty-body"),
    ],
)
def test_everything_else_reaches_the_app_below_with_its_body(
    store: Path, method: str, path: str, body: bytes, content_type: str
) -> None:
    """Other routes pass through; bodies FastAPI must word an error about are replayed intact."""
    sent, inner = _through_fast_path(store, method, path, body, content_type)
    assert sent[0]["status"] == 599
    assert inner.calls == [(path, body)]
