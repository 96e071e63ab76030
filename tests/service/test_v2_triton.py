"""The Open Inference Protocol endpoints driven by Triton's own client (``tritonclient.http``), unchanged.

Every answer is checked against /v1 predict (or trajectory) for the same inputs and version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from fixture_store import SPECS, sample_inputs
from tritonclient.utils import InferenceServerException

MODELS = ("moons-node", "circles-anode", "digits-anode")
Client = triton.InferenceServerClient


@pytest.fixture
def client(api: httpx.Client) -> Iterator[Client]:
    c = Client(f"{api.base_url.host}:{api.base_url.port}")
    yield c
    c.close()


def samples(name: str, count: int = 5, seed: int = 0) -> np.ndarray:
    """FP32 inputs shaped [count, *input shape] (FP32, so /v1 gets exactly the same numbers)."""
    return sample_inputs(SPECS[name][0], count, seed).astype(np.float32)


def tensor(x: np.ndarray, binary: bool = True) -> triton.InferInput:
    inp = triton.InferInput("input", list(x.shape), "FP32")
    return inp.set_data_from_numpy(x, binary_data=binary)


def v1(
    api: httpx.Client,
    name: str,
    x: np.ndarray,
    version: str | None = None,
    action: str = "predict",
    **body: Any,
) -> dict[str, Any]:
    path = f"/v1/models/{name}" + (f"/versions/{version}" if version else "") + f"/{action}"
    r = api.post(path, json={"inputs": x.astype(np.float64).tolist(), **body})
    assert r.status_code == 200, r.text
    return r.json()


def text(item: bytes | str) -> str:
    """A BYTES element: bytes when it came as binary data, str when it came in JSON."""
    return item.decode() if isinstance(item, bytes) else item


def assert_same_answer(result: triton.InferResult, expected: dict[str, Any]) -> None:
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected["probabilities"], atol=1e-6, rtol=0)
    assert [text(label) for label in result.as_numpy("label")] == expected["predictions"]
    assert result.as_numpy("nfe").tolist() == expected["nfe"]
    assert result.get_response()["model_version"] == str(expected["version"])


def test_server_probes_and_metadata(client: Client) -> None:
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "odeserve" and meta["version"]
    assert {"binary_tensor_data", "classification"} <= set(meta["extensions"])


def test_model_readiness(client: Client) -> None:
    assert client.is_model_ready("moons-node")
    assert client.is_model_ready("moons-node", "1") and client.is_model_ready("moons-node", "stable")
    assert not client.is_model_ready("moons-node", "9")
    assert not client.is_model_ready("nope")
    assert not client.is_model_ready("broken-node")  # failed its self-test: not served


def test_model_metadata(client: Client) -> None:
    meta = client.get_model_metadata("moons-node")
    assert meta["versions"] == ["1", "2"] and meta["platform"] == "odeserve-node"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 2]}]
    outputs = {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]}
    assert outputs == {
        "probabilities": ("FP32", [-1, 2]),
        "label": ("BYTES", [-1]),
        "label_index": ("INT64", [-1]),
        "nfe": ("INT64", [-1]),
        "trajectory": ("FP64", [-1, -1, 2]),
        "times": ("FP64", [-1]),
    }
    assert client.get_model_metadata("moons-node", "1")["versions"] == ["1"]
    digits = client.get_model_metadata("digits-anode")
    assert digits["inputs"][0]["shape"] == [-1, 1, 8, 8]
    shapes = {o["name"]: o["shape"] for o in digits["outputs"]}
    assert shapes["trajectory"] == [-1, -1, 8]  # 6 encoded + 2 augmented dimensions


@pytest.mark.parametrize("name", MODELS)
def test_infer_with_client_defaults_is_binary_and_matches_v1(
    api: httpx.Client, client: Client, name: str
) -> None:
    x = samples(name)
    result = client.infer(name, [tensor(x)])  # binary input; no outputs named: every output, as bytes
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == ["probabilities", "label", "label_index", "nfe"]
    assert all("binary_data_size" in o["parameters"] and "data" not in o for o in outputs)
    assert result.as_numpy("probabilities").dtype == np.float32
    assert_same_answer(result, v1(api, name, x))
    assert result.as_numpy("label_index").tolist() == np.argmax(result.as_numpy("probabilities"), 1).tolist()


def test_infer_in_json_mode_matches_v1(api: httpx.Client, client: Client) -> None:
    x = samples("digits-anode", count=3)
    wanted = [triton.InferRequestedOutput(n, binary_data=False) for n in ("probabilities", "label", "nfe")]
    result = client.infer("digits-anode", [tensor(x, binary=False)], outputs=wanted)
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == ["probabilities", "label", "nfe"]  # only those asked for
    assert all("data" in o and "parameters" not in o for o in outputs)
    assert_same_answer(result, v1(api, "digits-anode", x))


def test_solver_settings_travel_in_parameters(api: httpx.Client, client: Client) -> None:
    x = samples("moons-node")
    solver = {"method": "rk4", "step_size": 0.05, "max_steps": 50}
    result = client.infer("moons-node", [tensor(x)], parameters=solver)
    expected = v1(api, "moons-node", x, solver=solver)
    assert_same_answer(result, expected)
    assert result.as_numpy("nfe").tolist() == [80] * len(x)  # 20 fixed steps of 4 evaluations
    assert result.get_response()["parameters"] == {**expected["solver"], "batch_invariant": True}


def test_trajectory_output(api: httpx.Client, client: Client) -> None:
    x = samples("circles-anode", count=3)
    times = [0.0, 0.25, 0.5, 1.0]
    names = ("trajectory", "times", "probabilities", "label", "nfe")
    wanted = [triton.InferRequestedOutput(n) for n in names]
    result = client.infer("circles-anode", [tensor(x)], outputs=wanted, parameters={"times": times})
    expected = v1(api, "circles-anode", x, action="trajectory", times=times)
    assert result.as_numpy("trajectory").shape == (4, 3, 3)  # [T, B, 2 + 1 augmented]
    np.testing.assert_allclose(result.as_numpy("trajectory"), expected["states"], atol=1e-12, rtol=0)
    assert result.as_numpy("times").tolist() == times
    assert_same_answer(result, {**expected, "probabilities": expected["final_probabilities"]})
    points = client.infer("circles-anode", [tensor(x)], outputs=wanted[:1], parameters={"num_points": 3})
    assert points.as_numpy("trajectory").shape == (3, 3, 3)


@pytest.mark.parametrize("version", ["1", "2", "stable"])
def test_version_specific_calls(api: httpx.Client, client: Client, version: str) -> None:
    x = samples("moons-node", seed=1)
    result = client.infer("moons-node", [tensor(x)], model_version=version)
    assert_same_answer(result, v1(api, "moons-node", x, version=version))


def test_classification_extension(client: Client) -> None:
    x = samples("digits-anode", count=2)
    wanted = [
        triton.InferRequestedOutput("probabilities", class_count=3),
        triton.InferRequestedOutput("label"),
    ]
    result = client.infer("digits-anode", [tensor(x)], outputs=wanted)
    top = result.as_numpy("probabilities")
    assert top.shape == (2, 3)
    for row, label in zip(top, result.as_numpy("label"), strict=True):
        scores = [float(text(item).split(":")[0]) for item in row]
        assert scores == sorted(scores, reverse=True)
        assert text(row[0]).split(":")[2] == text(label)


def test_request_id_is_echoed_and_compressed_bodies_are_read(api: httpx.Client, client: Client) -> None:
    x = samples("moons-node")
    for algorithm in ("gzip", "deflate"):
        result = client.infer(
            "moons-node",
            [tensor(x)],
            request_id=f"req-{algorithm}",
            request_compression_algorithm=algorithm,
            response_compression_algorithm=algorithm,
        )
        assert result.get_response()["id"] == f"req-{algorithm}"
        assert_same_answer(result, v1(api, "moons-node", x))


def _infer(model: str = "moons-node", **kwargs: Any) -> Any:
    return lambda c, inp: c.infer(model, [inp], **kwargs)


@pytest.mark.parametrize(
    "call, status, message",
    [
        pytest.param(
            _infer("nope"), "404", "model 'nope' not found; known models: broken-node", id="unknown-model"
        ),
        pytest.param(
            _infer(model_version="7"), "404", "model 'moons-node' has no version 7", id="unknown-version"
        ),
        pytest.param(_infer("broken-node"), "503", "broken-node/1 is not served", id="failed-version"),
        pytest.param(
            lambda c, inp: c.get_model_metadata("nope"), "404", "model 'nope' not found", id="metadata"
        ),
        pytest.param(
            _infer(parameters={"rtol": 2.0}),
            "400",
            "body.parameters.rtol: Input should be less than 1",
            id="rtol-schema",
        ),
        pytest.param(
            _infer(parameters={"atol": 1e-14}),
            "400",
            "solver settings out of bounds: atol must be between 1e-10 and 0.5",
            id="atol-bounds",
        ),
        pytest.param(
            _infer(parameters={"max_steps": 10**9}),
            "400",
            "max_steps may be at most 10000",
            id="max-steps-cap",
        ),
        pytest.param(
            _infer(parameters={"method": "magic"}), "400", "unknown solver method 'magic'", id="method"
        ),
        pytest.param(
            _infer(parameters={"method": "rk4", "step_size": 0.05, "max_steps": 3}),
            "400",
            "needed more than max_steps=3 solver steps",
            id="step-limit",
        ),
        pytest.param(
            _infer(parameters={"tolerance": 1e-3}),
            "400",
            "body.parameters.tolerance: Extra inputs are not permitted",
            id="unknown-parameter",
        ),
        pytest.param(_infer(sequence_id=3), "400", "body.parameters.sequence_id", id="sequences-unsupported"),
    ],
)
def test_errors_reach_the_client_with_their_message(
    client: Client, call: Any, status: str, message: str
) -> None:
    with pytest.raises(InferenceServerException) as info:
        call(client, tensor(samples("moons-node")))
    assert info.value.status() == status
    assert message in info.value.message()
