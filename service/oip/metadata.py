"""Server and model metadata: what a protocol client reads before it builds a request."""

from __future__ import annotations

from collections.abc import Iterable

from models_store import Manifest

from .schemas import INPUT_NAME, ModelMetadata, ServerMetadata, TensorMetadata

SERVER_NAME = "odeserve"
EXTENSIONS = ("binary_tensor_data", "classification", "parameters")


def server_metadata(version: str) -> ServerMetadata:
    return ServerMetadata(name=SERVER_NAME, version=version, extensions=list(EXTENSIONS))


def model_metadata(manifest: Manifest, versions: Iterable[int]) -> ModelMetadata:
    """The declared input (FP32; FP64 is accepted too) and every output; the batch dimension is -1.

    ``trajectory`` and ``times`` are answered only when the request asks for times (its parameters
    ``times`` or ``num_points``) or names one of them.
    """
    features = list(manifest.input.shape)
    classes = len(manifest.classes)
    state_dim = manifest.architecture.state_dim
    outputs = [
        ("probabilities", "FP32", [-1, classes]),
        ("label", "BYTES", [-1]),
        ("label_index", "INT64", [-1]),
        ("nfe", "INT64", [-1]),
        ("trajectory", "FP64", [-1, -1, state_dim]),
        ("times", "FP64", [-1]),
    ]
    return ModelMetadata(
        name=manifest.name,
        versions=[str(v) for v in versions],
        platform=f"odeserve-{manifest.family}",
        inputs=[TensorMetadata(name=INPUT_NAME, datatype="FP32", shape=[-1, *features])],
        outputs=[TensorMetadata(name=name, datatype=dtype, shape=shape) for name, dtype, shape in outputs],
    )
