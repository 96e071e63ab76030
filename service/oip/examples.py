"""Example payloads of the Open Inference Protocol endpoints, shown in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic.config import JsonValue

SERVER_METADATA: dict[str, Any] = {
    "name": "odeserve",
    "version": "1.0.0",
    "extensions": ["binary_tensor_data", "classification", "parameters"],
}
MODEL_METADATA: dict[str, Any] = {
    "name": "moons-node",
    "versions": ["1", "2"],
    "platform": "odeserve-node",
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 2]}],
    "outputs": [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "label_index", "datatype": "INT64", "shape": [-1]},
        {"name": "nfe", "datatype": "INT64", "shape": [-1]},
        {"name": "trajectory", "datatype": "FP64", "shape": [-1, -1, 2]},
        {"name": "times", "datatype": "FP64", "shape": [-1]},
    ],
}
MODEL_READY: dict[str, Any] = {"name": "moons-node", "version": "2", "ready": True}

_INPUT: dict[str, Any] = {"name": "input", "shape": [2, 2], "datatype": "FP32", "data": [0.0, 0.9, 1.5, -0.3]}
PARAMETERS: list[JsonValue] = [{"method": "rk4", "step_size": 0.05}, {"rtol": 1e-6, "num_points": 5}]
INFER_REQUEST: dict[str, Any] = {
    "id": "42",
    "inputs": [_INPUT],
    "parameters": {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5},
    "outputs": [{"name": "probabilities"}, {"name": "label"}, {"name": "nfe"}],
}
INFER_NESTED_REQUEST: dict[str, Any] = {
    "inputs": [{"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [[0.0, 0.9], [1.5, -0.3]]}],
}
INFER_FIXED_STEP_REQUEST: dict[str, Any] = {
    "inputs": [_INPUT],
    "parameters": {"method": "rk4", "step_size": 0.05},
    "outputs": [{"name": "label"}, {"name": "probabilities", "parameters": {"classification": 1}}],
}
INFER_TRAJECTORY_REQUEST: dict[str, Any] = {
    "inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.1, 0.5]}],
    "parameters": {"times": [0.0, 0.5, 1.0]},
    "outputs": [{"name": "times"}, {"name": "trajectory"}, {"name": "label"}],
}
INFER_BINARY_REQUEST: dict[str, Any] = {
    "inputs": [
        {"name": "input", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
    ],
    "parameters": {"binary_data_output": True},
}
INFER_RESPONSE: dict[str, Any] = {
    "model_name": "moons-node",
    "model_version": "1",
    "id": "42",
    "parameters": {
        "method": "dopri5",
        "rtol": 1e-5,
        "atol": 1e-5,
        "step_size": 0.05,
        "max_steps": 1000,
        "batch_invariant": True,
    },
    "outputs": [
        {"name": "probabilities", "datatype": "FP32", "shape": [2, 2], "data": [0.97, 0.03, 0.02, 0.98]},
        {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["0", "1"]},
        {"name": "nfe", "datatype": "INT64", "shape": [2], "data": [26, 32]},
    ],
}
ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "the request cannot be served: it does not fit the protocol, the model or the server's limits, "
        "or its binary framing is wrong (/v1 answers the first three with 422)",
        "body.parameters.rtol: Input should be less than 1",
    ),
    401: ("no API key sent", "this endpoint needs an API key in the X-API-Key header"),
    403: ("wrong API key", "the API key is not valid"),
    404: (
        "unknown model, version or alias",
        "model 'moons' not found; known models: circles-anode, moons-node",
    ),
    413: (
        "body over the server's limit",
        "the request body is larger than this server's limit of 8388608 bytes",
    ),
    503: (
        "the version failed to load (the message says why)",
        "moons-node/2 is not served: weights.safetensors does not match its sha256 in the manifest",
    ),
}
"""Status -> (when, an example message); v2 errors are ``{"error": message}``. No 422: under /v2 every
client error /v1 answers with 422 is a 400 (:func:`service.errors.oip_status`)."""
OTHER_CLIENT_ERROR: tuple[str, str] = (
    "another client error, e.g. 405 (a method the path does not take)",
    "GET is not allowed on /v2/models/moons-node/infer",
)
