"""The Open Inference Protocol (KServe v2, as Triton and MLServer speak it) over odeserve's models.

One input tensor, ``input`` (FP32 or FP64, ``[-1, *input shape]``); outputs ``probabilities``,
``label`` (class name), ``label_index``, ``nfe`` and, when times are asked for, ``trajectory`` and
``times``. Solver settings are request ``parameters``, validated as /v1's ``solver``. The binary
tensor data and classification extensions are supported, so Triton's client works with its defaults.
"""

from .framing import HEADER_LENGTH, parse_request
from .inputs import decode_input
from .metadata import model_metadata, server_metadata
from .outputs import encode_response, prediction_tensors, trajectory_tensors
from .schemas import (
    ErrorResponse,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ModelReady,
    ServerLive,
    ServerMetadata,
    ServerReady,
)

__all__ = [
    "HEADER_LENGTH",
    "ErrorResponse",
    "InferRequest",
    "InferResponse",
    "ModelMetadata",
    "ModelReady",
    "ServerLive",
    "ServerMetadata",
    "ServerReady",
    "decode_input",
    "encode_response",
    "model_metadata",
    "parse_request",
    "prediction_tensors",
    "server_metadata",
    "trajectory_tensors",
]
