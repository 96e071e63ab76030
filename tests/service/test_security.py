"""Who gets in and what gets run, over real servers: API keys (inference optional, admin required),
path traversal in names and versions, no pickle loaded even when its sha256 checks out, CORS only
when configured, and no stack trace in any answer."""

from __future__ import annotations

import inspect
import os
import pickle
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from fixture_store import publish
from live_server import ADMIN_KEY, live_server, threaded_server

from models_store import MANIFEST_FILE, WEIGHTS_FILE, ModelStore, sha256_file
from models_store.integrity import digest_line
from models_store.manifest import MANIFEST_DIGEST_FILE
from service import deps
from service.app import create_app
from service.settings import Settings

API_KEY = "inference-key"
ORIGIN = "https://app.example"
POINT = [0.5, -0.25]
PREDICT = "/v1/models/moons-node/predict"


class _Exploit:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def _plant_pickle(store: ModelStore, name: str, version: int, write) -> None:
    """Replace the weights by a pickle and re-hash the manifest, so sha256 verification passes."""
    folder = store.version_dir(name, version)
    write(folder / WEIGHTS_FILE)
    manifest = store.manifest(name, version)
    files = {**manifest.files, WEIGHTS_FILE: sha256_file(folder / WEIGHTS_FILE)}
    raw = (manifest.model_copy(update={"files": files}).model_dump_json(indent=2) + "\n").encode()
    (folder / MANIFEST_FILE).write_bytes(raw)
    (folder / MANIFEST_DIGEST_FILE).write_bytes(digest_line(raw))
    store.verify(name, version)  # the digests match: only the weights' format stands in the way


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pickle-marker") / "pwned"


@pytest.fixture(scope="module")
def secured(
    store_template: Path, tmp_path_factory: pytest.TempPathFactory, marker: Path
) -> Iterator[httpx.Client]:
    """A server with an inference key, CORS for one origin, and two pickles posing as weights."""
    root = tmp_path_factory.mktemp("store-secured") / "store"
    shutil.copytree(store_template, root)
    store = ModelStore(root)
    for seed in (40, 41):
        publish(store, "evil-node", seed=seed, spec_of="moons-node")
    _plant_pickle(store, "evil-node", 1, lambda p: p.write_bytes(pickle.dumps(_Exploit(marker))))
    _plant_pickle(store, "evil-node", 2, lambda p: torch.save({"field.net.0.weight": _Exploit(marker)}, p))
    env = {"ODESERVE_API_KEY": API_KEY, "ODESERVE_CORS_ORIGINS": ORIGIN}
    with live_server(root, env=env) as client:
        client.headers["X-API-Key"] = API_KEY
        yield client


def test_the_exploit_is_live(tmp_path: Path) -> None:
    """The payload really runs when unpickled (so its absence below means it was never unpickled)."""
    armed = tmp_path / "armed"
    pickle.loads(pickle.dumps(_Exploit(armed)))
    assert armed.exists()


def test_pickled_weights_are_refused_without_being_unpickled(secured: httpx.Client, marker: Path) -> None:
    detail = secured.get("/v1/models/evil-node").json()
    assert [v["status"] for v in detail["versions"]] == ["failed", "failed"]
    assert all(WEIGHTS_FILE in v["reason"] for v in detail["versions"])
    r = secured.post("/v1/models/evil-node/predict", json={"inputs": [POINT]})
    assert r.status_code == 503 and r.json()["error"]["type"] == "version_unavailable"
    assert not marker.exists()
    assert secured.post(PREDICT, json={"inputs": [POINT]}).status_code == 200  # the rest serves


@pytest.mark.parametrize(
    "method, url",
    [
        ("POST", PREDICT),
        ("POST", "/v1/models/moons-node/trajectory"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/moons-node"),
        ("GET", "/v2/models/moons-node"),
        ("POST", "/v2/models/moons-node/infer"),
    ],
)
def test_inference_needs_the_key_when_one_is_set(secured: httpx.Client, method: str, url: str) -> None:
    body = {"inputs": [POINT]} if method == "POST" else None
    missing = httpx.request(method, f"{secured.base_url}{url}", json=body)
    assert missing.status_code == 401 and "X-API-Key" in missing.headers["www-authenticate"]
    for wrong in ("nope", API_KEY + "x", API_KEY[:-1], ADMIN_KEY):
        r = httpx.request(method, f"{secured.base_url}{url}", json=body, headers={"X-API-Key": wrong})
        assert r.status_code == 403, (wrong, r.text)


def test_probes_and_metrics_stay_open(secured: httpx.Client) -> None:
    for url in ("/healthz", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready", "/v2"):
        assert httpx.get(f"{secured.base_url}{url}").status_code == 200, url


def test_admin_needs_the_admin_key(secured: httpx.Client) -> None:
    url = f"{secured.base_url}/v1/admin/reload"
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"X-API-Key": API_KEY}).status_code == 403  # the inference key is not it
    assert httpx.post(url, headers={"X-API-Key": ADMIN_KEY}).status_code == 200


def test_admin_is_off_without_an_admin_key(store_template: Path) -> None:
    with threaded_server(create_app(Settings(store=store_template, poll_interval_s=0))) as client:
        r = client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
    assert r.status_code == 403 and "ODESERVE_ADMIN_API_KEY" in r.json()["error"]["message"]


def test_keys_are_compared_in_constant_time() -> None:
    assert "hmac.compare_digest" in inspect.getsource(deps._check_key)


TRAVERSALS = [
    "/v1/models/../predict",
    "/v1/models/%2e%2e/predict",
    "/v1/models/%2E%2E/trajectory",
    "/v1/models/..%2f..%2fetc%2fpasswd/predict",
    "/v1/models/%2fetc%2fpasswd/predict",
    "/v1/models//etc/passwd/predict",
    "/v1/models/moons-node/versions/../predict",
    "/v1/models/moons-node/versions/%2e%2e/predict",
    "/v1/models/moons-node/versions/..%2f1/predict",
    "/v1/models/moons-node/versions/%2fetc/predict",
    "/v1/models/%EF%BC%8E%EF%BC%8E/predict",
    "/v1/models/moons%E2%80%90node/predict",
    "/v1/models/moons-node%00/predict",
    "/v1/models/..%5c..%5cx/predict",
    "/v1/models/%252e%252e/predict",
    "/v1/models/~root/predict",
    "/v1/models/.hidden/predict",
    "/v2/models/%2e%2e/infer",
    "/v2/models/moons-node/versions/%2e%2e/infer",
    "/v2/models/../ready",
    "/v1/models/%2e%2e",
    "/v1/models/moons-node/versions/%2e%2e",
    "/v1/models/MOONS-NODE/predict",
]


def _raw(port: int, method: str, target: str) -> tuple[int, bytes]:
    """Send the request target byte for byte (httpx would normalise the dots away)."""
    body = b'{"inputs": [[0.5, -0.25]]}'
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_in_names_and_versions_is_refused(
    api: httpx.Client, store_template: Path, target: str
) -> None:
    method = (
        "GET"
        if target.count("/") <= 5 and not target.endswith(("predict", "trajectory", "infer"))
        else "POST"
    )
    status, body = _raw(api.base_url.port, method, target)
    assert status in (400, 404, 405), (target, status, body)
    assert b"Traceback" not in body and str(store_template.parent).encode() not in body
    if status == 404:
        assert body.startswith(b'{"error"')


def test_cors_is_off_unless_configured(api: httpx.Client) -> None:
    r = api.get("/v1/models", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    preflight = api.options(PREDICT, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers


def test_cors_allows_the_configured_origin_only(secured: httpx.Client) -> None:
    preflight = secured.options(
        PREDICT,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
    r = secured.post(PREDICT, json={"inputs": [POINT]}, headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    other = secured.options(
        PREDICT, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert (
        "access-control-allow-origin"
        not in secured.get("/v1/models", headers={"Origin": "https://evil.example"}).headers
    )


def test_an_internal_error_answers_a_generic_500_without_a_trace(store_template: Path) -> None:
    app = create_app(Settings(store=store_template, poll_interval_s=0))

    @app.get("/v1/boom")
    @app.get("/v2/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals at /srv/odeserve/app.py line 12")

    with threaded_server(app) as client:
        base = client.base_url  # a new connection each: uvicorn closes one after an unhandled error
        v1 = httpx.get(f"{base}/v1/boom")
        v2 = httpx.get(f"{base}/v2/boom", headers={"X-Request-ID": "trace-me"})
    assert v1.status_code == 500 and v1.json() == {
        "error": {"type": "internal_error", "message": "internal server error", "details": None}
    }
    assert v2.status_code == 500 and v2.json() == {"error": "internal server error"}
    for r in (v1, v2):
        assert "Traceback" not in r.text and "secret" not in r.text and "RuntimeError" not in r.text
    assert len(v1.headers["x-request-id"]) == 32 and v2.headers["x-request-id"] == "trace-me"
