"""The Open Inference Protocol endpoints driven by KServe's own Python client (``kserve.InferenceRESTClient``,
protocol v2), unchanged, against the same real server as the Triton client's tests.

KServe's client writes ``model_name`` into every request body, JSON or binary header, a field the
protocol does not list; these tests are the proof that odeserve accepts it. Every answer is checked
against /v1 predict for the same inputs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
from fixture_store import SPECS, sample_inputs
from kserve import InferenceRESTClient, InferInput, InferRequest, InferResponse, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

from service.oip.schemas import CLIENT_FIELDS

MODELS = ("moons-node", "circles-anode", "digits-anode")
OUTPUTS = ("probabilities", "label", "label_index", "nfe")


def samples(name: str, count: int = 4, seed: int = 3) -> np.ndarray:
    """FP32 inputs shaped [count, *input shape] (FP32, so /v1 gets exactly the same numbers)."""
    return sample_inputs(SPECS[name][0], count, seed).astype(np.float32)


def request(name: str, x: np.ndarray, binary: bool, **kwargs: Any) -> InferRequest:
    """The request as a KServe user builds it: one FP32 tensor, as JSON data or as bytes."""
    tensor = InferInput(name="input", shape=list(x.shape), datatype="FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    return InferRequest(model_name=name, infer_inputs=[tensor], **kwargs)


def infer(
    api: httpx.Client, name: str, req: InferRequest, response_headers: dict[str, str] | None = None
) -> InferResponse:
    """One call through the real client (it is async only), over a real socket to the test server."""

    async def call() -> InferResponse:
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=60)) as client:
            return await client.infer(
                str(api.base_url), req, model_name=name, response_headers=response_headers
            )

    return asyncio.run(call())


def v1(api: httpx.Client, name: str, x: np.ndarray, **body: Any) -> dict[str, Any]:
    r = api.post(f"/v1/models/{name}/predict", json={"inputs": x.astype(np.float64).tolist(), **body})
    assert r.status_code == 200, r.text
    return r.json()


def text(item: bytes | str) -> str:
    return item.decode() if isinstance(item, bytes) else item


def assert_same_answer(response: InferResponse, name: str, expected: dict[str, Any]) -> None:
    out = {o.name: o.as_numpy() for o in response.outputs}
    assert list(out) == list(OUTPUTS) and response.model_name == name
    np.testing.assert_allclose(out["probabilities"], expected["probabilities"], atol=1e-6, rtol=0)
    assert out["probabilities"].dtype == np.float32
    assert [text(label) for label in out["label"]] == expected["predictions"]
    assert out["nfe"].tolist() == expected["nfe"]
    assert out["label_index"].tolist() == np.argmax(out["probabilities"], axis=1).tolist()


def test_the_client_sends_fields_the_protocol_does_not_list() -> None:
    """What these tests exercise: KServe's body carries model_name (without it they would prove less)."""
    body, _ = request("moons-node", samples("moons-node"), binary=False).to_rest()
    assert isinstance(body, dict) and body["model_name"] == "moons-node"
    assert set(body) - {"id", "parameters", "inputs", "outputs"} <= set(CLIENT_FIELDS)


@pytest.mark.parametrize("name", MODELS)
def test_json_mode_matches_v1(api: httpx.Client, name: str) -> None:
    x = samples(name)
    req = request(name, x, binary=False, request_id=f"kserve-{name}")
    response = infer(api, name, req)
    assert response.id == f"kserve-{name}"
    assert_same_answer(response, name, v1(api, name, x))


@pytest.mark.parametrize("name", MODELS)
def test_binary_mode_matches_v1(api: httpx.Client, name: str) -> None:
    """Bytes in (the JSON header carries model_name) and bytes out, as the client frames and reads them."""
    x = samples(name, seed=5)
    wanted = [RequestedOutput(o, parameters={"binary_data": True}) for o in OUTPUTS]
    req = request(name, x, binary=True, request_outputs=wanted)
    body, header_length = req.to_rest()
    assert isinstance(body, bytes) and header_length is not None and b'"model_name"' in body[:header_length]
    headers: dict[str, str] = {}
    response = infer(api, name, req, headers)
    assert headers["content-type"] == "application/octet-stream"  # the outputs came as bytes
    assert int(headers["inference-header-content-length"]) < int(headers["content-length"])
    assert_same_answer(response, name, v1(api, name, x))


def test_solver_parameters_travel_in_parameters(api: httpx.Client) -> None:
    x = samples("moons-node")
    solver = {"method": "rk4", "step_size": 0.05, "max_steps": 50}
    response = infer(api, "moons-node", request("moons-node", x, binary=True, parameters=solver))
    expected = v1(api, "moons-node", x, solver=solver)
    assert_same_answer(response, "moons-node", expected)
    assert response.parameters == {**expected["solver"], "batch_invariant": True}


def test_a_refused_request_is_a_400_with_the_message(api: httpx.Client) -> None:
    x = np.zeros((2, 3), dtype=np.float32)  # moons-node takes 2 features
    with pytest.raises(httpx.HTTPStatusError) as info:
        infer(api, "moons-node", request("moons-node", x, binary=False))
    assert info.value.response.status_code == 400
    assert "model 'moons-node' expects 2" in str(info.value)
