"""The Open Inference Protocol over plain HTTP: JSON (nested and flat), hand-framed binary bodies, the
flat error shape, API keys and readiness, and the documented examples."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fixture_store import SPECS, sample_inputs
from live_server import threaded_server

from service import Settings, create_app

INFER = "/v2/models/{}/infer"
POINTS = [[0.5, -0.25], [1.5, 0.3]]


def infer(
    api: httpx.Client, body: dict[str, Any], model: str = "moons-node", **kwargs: Any
) -> httpx.Response:
    return api.post(INFER.format(model), json=body, **kwargs)


def tensor(data: Any, shape: list[int], datatype: str = "FP64") -> dict[str, Any]:
    return {"name": "input", "shape": shape, "datatype": datatype, "data": data}


def outputs(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return {o["name"]: o for o in r.json()["outputs"]}


def framed(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head))}


def test_nested_and_flat_json_data_match_v1(api: httpx.Client) -> None:
    x = sample_inputs(SPECS["digits-anode"][0], 3, seed=7)  # [3, 1, 8, 8], float64
    expected = api.post("/v1/models/digits-anode/predict", json={"inputs": x.tolist()}).json()
    nested = outputs(infer(api, {"inputs": [tensor(x.tolist(), [3, 1, 8, 8])]}, "digits-anode"))
    flat = outputs(infer(api, {"inputs": [tensor(x.ravel().tolist(), [3, 64])]}, "digits-anode"))
    for out in (nested, flat):
        assert out["probabilities"]["datatype"] == "FP64" and out["probabilities"]["shape"] == [3, 10]
        probs = np.reshape(out["probabilities"]["data"], (3, 10))
        np.testing.assert_allclose(probs, expected["probabilities"], atol=1e-12, rtol=0)
        assert out["label"]["data"] == expected["predictions"] and out["nfe"]["data"] == expected["nfe"]


def test_fp32_json_and_fp32_bytes_give_the_same_answer(api: httpx.Client) -> None:
    x = np.asarray(POINTS, dtype="<f4")
    as_json = outputs(infer(api, {"inputs": [tensor(x.tolist(), [2, 2], "FP32")]}))
    header = {
        "inputs": [
            {
                "name": "input",
                "shape": [2, 2],
                "datatype": "FP32",
                "parameters": {"binary_data_size": x.nbytes},
            }
        ],
        "outputs": [
            {"name": "probabilities", "parameters": {"binary_data": True}},
            {"name": "label", "parameters": {"binary_data": True}},
            {"name": "nfe"},
        ],
    }
    content, headers = framed(header, x.tobytes())
    r = api.post(INFER.format("moons-node"), content=content, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    length = int(r.headers["inference-header-content-length"])
    head, tail = json.loads(r.content[:length]), r.content[length:]
    probs, label, nfe = head["outputs"]
    assert probs["parameters"] == {"binary_data_size": 16} and nfe["data"] == as_json["nfe"]["data"]
    assert np.frombuffer(tail[:16], "<f4").tolist() == as_json["probabilities"]["data"]
    assert _bytes_tensor(tail[16 : 16 + label["parameters"]["binary_data_size"]]) == as_json["label"]["data"]
    assert len(tail) == 16 + label["parameters"]["binary_data_size"]


def _bytes_tensor(raw: bytes) -> list[str]:
    """A BYTES tensor's elements: each a 4-byte little-endian length, then that many bytes."""
    items, offset = [], 0
    while offset < len(raw):
        (size,) = struct.unpack_from("<I", raw, offset)
        items.append(raw[offset + 4 : offset + 4 + size].decode())
        offset += 4 + size
    return items


def test_bodies_as_kserve_and_mlserver_clients_write_them(api: httpx.Client) -> None:
    """Every optional field written out as null, and MLServer's codec hint on the input."""
    body = {
        "id": None,
        "parameters": None,
        "outputs": None,
        "inputs": [{**tensor(POINTS, [2, 2]), "parameters": {"content_type": "np"}}],
    }
    assert outputs(infer(api, body))["label"]["shape"] == [2]
    ready = api.get("/v2/models/moons-node/versions/stable/ready")
    assert ready.json() == {"name": "moons-node", "version": "1", "ready": True}


def test_fields_kserve_clients_add_are_accepted_and_change_nothing(api: httpx.Client) -> None:
    """KServe's InferenceRESTClient writes model_name into every body (as JSON and as a binary header);
    the URL decides which model and version answer, whatever those fields say."""
    body = {"id": "k", "inputs": [tensor(POINTS, [2, 2])], "parameters": {"method": "rk4", "step_size": 0.1}}
    plain = infer(api, body).json()
    for extra in ({"model_name": "moons-node"}, {"model_name": "circles-anode", "model_version": "1"}):
        assert infer(api, {**body, **extra}).json() == plain
    x = np.asarray(POINTS, dtype="<f4")
    spec = {"name": "input", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
    content, headers = framed({"model_name": "moons-node", "inputs": [spec]}, x.tobytes())
    r = api.post(INFER.format("moons-node"), content=content, headers=headers)
    assert r.status_code == 200 and r.json()["model_name"] == "moons-node", r.text


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"model": "moons-node"}, "body.model"),
        ({"output": [{"name": "nfe"}]}, "body.output"),  # a misspelt field is refused, not ignored
        ({"sequence_id": 3}, "body.sequence_id"),
    ],
)
def test_unknown_top_level_fields_are_a_400_naming_them(
    api: httpx.Client, extra: dict[str, Any], field: str
) -> None:
    r = infer(api, {"inputs": [tensor(POINTS, [2, 2])], **extra})
    assert r.status_code == 400 and r.json() == {"error": f"{field}: Extra inputs are not permitted"}


def test_documented_statuses_are_the_protocols(api: httpx.Client) -> None:
    """Under /v2 a refused request is documented as 400, never 422 (not even FastAPI's own 422 of
    HTTPValidationError, a shape /v2 never answers with); /v1 still documents 422."""
    paths = api.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            codes = set(operation.get("responses", {}))
            assert not (path.startswith("/v2") and "422" in codes), (path, codes)
            assert not (path.startswith("/v2") and "HTTPValidationError" in json.dumps(operation)), path
    assert "400" in paths["/v2/models/{name}/infer"]["post"]["responses"]
    assert "422" in paths["/v1/models/{name}/predict"]["post"]["responses"]


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("POST", INFER.format("nope"), 404),
        ("GET", "/v2/nope", 404),
        ("GET", INFER.format("moons-node"), 405),
        ("GET", "/v2/models/moons-node/versions/9", 404),
        ("GET", "/v2/models/broken-node/ready", 503),
    ],
)
def test_v2_errors_are_flat_and_v1_errors_unchanged(
    api: httpx.Client, method: str, url: str, status: int
) -> None:
    r = api.request(method, url, json={"inputs": [tensor(POINTS, [2, 2])]})
    assert r.status_code == status
    assert set(r.json()) == {"error"} and isinstance(r.json()["error"], str) and r.json()["error"]
    v1 = api.get("/v1/models/nope").json()
    assert v1["error"]["type"] == "model_not_found"


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"inputs": [tensor(POINTS, [2, 2], "INT32")]},
            "body.inputs.0.datatype: Input should be 'FP32' or 'FP64'",
        ),
        (
            {"inputs": [{**tensor(POINTS, [2, 2]), "name": "x"}]},
            "body.inputs.0.name: Input should be 'input'",
        ),
        ({"inputs": [tensor(POINTS, [2, 3])]}, "input 'input' has 4 values; shape [2, 3] needs 6"),
        (
            {"inputs": [tensor([[1.0, 2.0, 3.0]], [1, 3])]},
            "inputs[0] has shape [3]; model 'moons-node' expects 2",
        ),
        ({"inputs": [tensor([[1.0, "2"]], [1, 2])]}, "data must be numbers"),
        ({"inputs": [tensor([[1.0], [2.0, 3.0]], [1, 3])]}, "data must be numbers"),
        ({"inputs": [tensor([], [0, 2])]}, "has no samples"),
        ({"inputs": [tensor([1e300, 0.0], [1, 2], "FP32")]}, "NaN or infinity"),
        ({"inputs": [{k: v for k, v in tensor(POINTS, [2, 2]).items() if k != "data"}]}, "neither data nor"),
        (
            {"inputs": [tensor(POINTS, [2, 2])], "outputs": [{"name": "logits"}]},
            "body.outputs.0.name: Input should be",
        ),
        (
            {"inputs": [tensor(POINTS, [2, 2])], "outputs": [{"name": "nfe"}, {"name": "nfe"}]},
            "requested once",
        ),
        (
            {
                "inputs": [tensor(POINTS, [2, 2])],
                "outputs": [{"name": "nfe", "parameters": {"classification": 2}}],
            },
            "classification applies to the probabilities output only",
        ),
        (
            {"inputs": [tensor(POINTS, [2, 2])], "parameters": {"times": [0.0, 1.0], "num_points": 3}},
            "give either times or num_points",
        ),
        ({"inputs": [tensor(POINTS, [2, 2])], "parameters": {"times": [0.5, 0.2]}}, "strictly increasing"),
        ({"inputs": [tensor(POINTS, [2, 2])], "parameters": {"num_points": 5000}}, "at most 1000"),
        ({"inputs": [tensor(POINTS, [2, 2])], "parameters": {"rtol": "1e-3"}}, "body.parameters.rtol"),
    ],
)
def test_invalid_requests_are_400_with_a_message(
    api: httpx.Client, body: dict[str, Any], message: str
) -> None:
    """400, as Triton and KServe answer a request they cannot serve (/v1 says 422 for the same)."""
    r = infer(api, body)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_v1_keeps_422_for_what_v2_answers_400(api: httpx.Client) -> None:
    v1 = api.post("/v1/models/moons-node/predict", json={"inputs": [[1.0, 2.0, 3.0]]})
    assert v1.status_code == 422 and v1.json()["error"]["type"] == "input_shape"
    v2 = infer(api, {"inputs": [tensor([[1.0, 2.0, 3.0]], [1, 3])]})
    assert v2.status_code == 400 and v2.json() == {"error": v1.json()["error"]["message"]}


@pytest.mark.parametrize(
    "content, header, message",
    [
        (b'{"inputs": []}', "500", "says 500 bytes; the body has 14"),
        (b'{"inputs": []}', "x", "header is not a number"),
        (b"{}", None, "body.inputs: Field required"),
        (b"{oops", None, "not valid JSON"),
    ],
)
def test_bad_framing_is_a_clear_error(
    api: httpx.Client, content: bytes, header: str | None, message: str
) -> None:
    headers = {"Inference-Header-Content-Length": header} if header else {}
    r = api.post(INFER.format("moons-node"), content=content, headers=headers)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_binary_sizes_must_account_for_every_byte(api: httpx.Client) -> None:
    x = np.asarray(POINTS, dtype="<f4").tobytes()
    spec = {"name": "input", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
    short = framed({"inputs": [spec]}, x[:8])
    extra = framed({"inputs": [spec]}, x, b"\0")
    wrong = framed({"inputs": [{**spec, "shape": [1, 2], "parameters": {"binary_data_size": 16}}]}, x)
    for (content, headers), message in (
        (short, "only 8 bytes follow"),
        (extra, "1 bytes follow"),
        (wrong, "has 16 bytes; shape [1, 2] of FP32 needs 8"),
    ):
        r = api.post(INFER.format("moons-node"), content=content, headers=headers)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    no_length = json.dumps({"inputs": [spec]}).encode()  # binary_data_size, but no header length
    r = api.post(INFER.format("moons-node"), content=no_length)
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]


def test_compressed_bodies_are_bounded(api: httpx.Client) -> None:
    r = api.post(INFER.format("moons-node"), content=b" " * ((8 << 20) + 1))
    assert r.status_code == 413 and "larger than this server's limit" in r.json()["error"]  # flat here too
    bomb = gzip.compress(b" " * (9 << 20))  # 9 MiB of spaces in ~9 kB, over the 8 MiB body limit
    r = api.post(INFER.format("moons-node"), content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["error"]
    r = api.post(INFER.format("moons-node"), content=b"x", headers={"Content-Encoding": "br"})
    assert r.status_code == 400 and "'br' is not supported" in r.json()["error"]


def test_documented_infer_examples_are_accepted(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]["application/json"]
    assert len(body["examples"]) >= 4 and "$ref" not in json.dumps(body["schema"])  # written in place
    for example in body["examples"].values():
        r = infer(api, example["value"])
        assert r.status_code == 200, (example, r.text)
    answer = spec["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["200"]["content"]
    assert set(answer) == {"application/json", "application/octet-stream"}


def test_model_endpoints_need_the_api_key_and_probes_do_not(store_template: Path) -> None:
    settings = Settings(store=store_template, poll_interval_s=0, api_key="secret")
    with threaded_server(create_app(settings)) as client:
        r = client.get("/v2/models/moons-node")
        assert r.status_code == 401
        assert r.json() == {"error": "this endpoint needs an API key in the X-API-Key header"}
        assert infer(client, {"inputs": [tensor(POINTS, [2, 2])]}).status_code == 401
        ok = infer(client, {"inputs": [tensor(POINTS, [2, 2])]}, headers={"X-API-Key": "secret"})
        assert ok.status_code == 200
        for path in ("/v2", "/v2/health/live", "/v2/health/ready"):
            assert client.get(path).status_code == 200


def test_not_ready_without_models(tmp_path: Path) -> None:
    with threaded_server(create_app(Settings(store=tmp_path / "empty", poll_interval_s=0))) as client:
        r = client.get("/v2/health/ready")
        assert r.status_code == 503 and r.json() == {"ready": False}
        assert client.get("/v2/health/live").json() == {"live": True}
