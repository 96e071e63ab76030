"""The app as a whole: probes, OpenAPI, API keys, the error envelope for framework errors and 500s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from live_server import ADMIN_KEY, threaded_server
from threadpoolctl import threadpool_info, threadpool_limits

from service import Settings, create_app

POINT = [0.5, -0.25]
JSON = {"content-type": "application/json"}
OPERATIONS = {
    "healthz",
    "readyz",
    "list_models",
    "get_model",
    "get_version",
    "predict",
    "predict_version",
    "trajectory",
    "trajectory_version",
    "grid",
    "grid_version",
    "vector_field",
    "vector_field_version",
    "dataset",
    "dataset_version",
    "reload",
    "v2_server_metadata",
    "v2_live",
    "v2_ready",
    "v2_model_metadata",
    "v2_model_version_metadata",
    "v2_model_ready",
    "v2_model_version_ready",
    "v2_infer",
    "v2_infer_version",
}


def test_probes(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "loaded_versions": 4, "failed_versions": 1, "draining": False}


def test_every_operation_is_documented_with_examples(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert set(operations) == OPERATIONS
    for name, op in operations.items():
        ok = op["responses"]["200"]["content"]["application/json"]
        assert "example" in ok or "examples" in ok, f"{name}: no example for its answer"
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]
            assert body.get("examples"), f"{name}: no body example"
        for status, answer in op["responses"].items():
            if status != "200":
                assert "example" in answer["content"]["application/json"], f"{name} {status}: no example"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_documented_request_examples_are_accepted(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path in (
        "/v1/models/{name}/predict",
        "/v1/models/{name}/trajectory",
        "/v1/models/{name}/grid",
        "/v1/models/{name}/vector_field",
    ):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for example in body["examples"].values():
            model = "digits-anode" if "8x8" in example["summary"] else "moons-node"
            model = "circles-anode" if "circles-anode" in example["summary"] else model
            r = api.post(path.replace("{name}", model), json=example["value"])
            assert r.status_code == 200, (example, r.text)


@pytest.mark.parametrize(
    "method, url, status, kind",
    [
        ("GET", "/nope", 404, "not_found"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
        ("GET", "/v1/models/moons-node/predict", 405, "method_not_allowed"),
        ("PUT", "/v1/admin/reload", 405, "method_not_allowed"),
    ],
)
def test_framework_errors_use_the_error_envelope(
    api: httpx.Client, method: str, url: str, status: int, kind: str
) -> None:
    r = api.request(method, url)
    assert r.status_code == status and r.json()["error"]["type"] == kind
    if status == 405:
        assert r.headers["allow"]


def test_invalid_json_is_a_422_that_says_so(api: httpx.Client) -> None:
    r = api.post("/v1/models/moons-node/predict", content=b"{inputs: oops", headers=JSON)
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]


def test_bodies_over_the_limit_are_413(api: httpx.Client) -> None:
    big = b'{"inputs": [' + b"[0.5, -0.25], " * 700_000 + b"[0.5, -0.25]]}"
    r = api.post("/v1/models/moons-node/predict", content=big, headers=JSON)
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"

    def chunks():  # no Content-Length: counted while read
        for _ in range(100):
            yield b" " * 100_000

    r = api.post("/v1/models/moons-node/predict", content=chunks(), headers=JSON)
    assert r.status_code == 413


def test_admin_needs_the_admin_key(api: httpx.Client) -> None:
    assert api.post("/v1/admin/reload").status_code == 401
    assert api.post("/v1/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 403
    assert api.post("/v1/admin/reload", headers={"X-API-Key": "ünïcode".encode()}).status_code == 403
    r = api.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 200 and r.json()["loaded_versions"] == 4


def test_admin_is_disabled_without_a_configured_key(store_template: Path) -> None:
    with threaded_server(create_app(Settings(store=store_template, poll_interval_s=0))) as client:
        r = client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
        assert r.status_code == 403 and "disabled" in r.json()["error"]["message"]


def test_inference_api_key(store_template: Path) -> None:
    settings = Settings(store=store_template, poll_interval_s=0, api_key="secret")
    with threaded_server(create_app(settings)) as client:
        url = "/v1/models/moons-node/predict"
        assert client.post(url, json={"inputs": [POINT]}).status_code == 401
        assert client.get("/v1/models").status_code == 401
        assert client.post(url, json={"inputs": [POINT]}, headers={"X-API-Key": "nope"}).status_code == 403
        assert client.post(url, json={"inputs": [POINT]}, headers={"X-API-Key": "secret"}).status_code == 200
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_not_ready_without_models_or_while_draining(tmp_path: Path, store_template: Path) -> None:
    with threaded_server(create_app(Settings(store=tmp_path / "empty", poll_interval_s=0))) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "not_ready"
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/models").json() == {"models": []}
    app = create_app(Settings(store=store_template, poll_interval_s=0))
    with threaded_server(app) as client:
        assert client.get("/readyz").status_code == 200
        app.state.runtime.draining = True
        assert client.get("/readyz").json()["draining"] is True
        assert client.get("/readyz").status_code == 503


def test_unexpected_errors_are_a_generic_500_without_a_trace(store_template: Path) -> None:
    app = create_app(Settings(store=store_template, poll_interval_s=0))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 12")

    with threaded_server(app) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {
        "error": {"type": "internal_error", "message": "internal server error", "details": None}
    }


def test_nothing_is_built_at_import_time() -> None:
    import service.app

    built = [
        name for name, value in vars(service.app).items() if type(value).__name__ in {"FastAPI", "Settings"}
    ]
    assert built == []


def test_the_lifespan_gives_numpy_blas_the_workers_thread_count(store_template: Path) -> None:
    """The big-batch solver's matmuls run on numpy's BLAS, whose default is a thread per core:
    the lifespan holds it to ``torch_threads``, like torch's own pool."""
    threadpool_limits(2, user_api="blas")  # as a fresh process on two cores starts
    app = create_app(Settings(store=store_template, poll_interval_s=0, torch_threads=1))

    async def blas_threads_while_serving() -> set[int]:
        async with app.router.lifespan_context(app):
            return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    assert asyncio.run(blas_threads_while_serving()) == {1}
