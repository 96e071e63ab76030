"""A tiny model version (random weights) and its exported field, for engine tests; no store needed."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime

import torch

from models_store import (
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    FlattenEncoderSpec,
    InputSpec,
    Manifest,
    OdeClassifier,
    build_network,
)


class _FieldAt(torch.nn.Module):
    """f(t [B,1], z [B,D]): the signature of a stored field.onnx."""

    def __init__(self, field: torch.nn.Module) -> None:
        super().__init__()
        self.field = field

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.field(t, z)


def make_version(
    augment_dim: int = 1,
    time_input: bool = True,
    seed: int = 0,
    input_shape: tuple[int, ...] = (2,),
    encoder: FlattenEncoderSpec | ConvEncoderSpec | None = None,
    classes: int = 2,
) -> tuple[OdeClassifier, Manifest]:
    torch.manual_seed(seed)
    spec = ArchitectureSpec(
        input_shape=list(input_shape),
        augment_dim=augment_dim,
        num_classes=classes,
        encoder=encoder or FlattenEncoderSpec(),
        field=FieldSpec(hidden=[32], activation="tanh", time_input=time_input),
    )
    manifest = Manifest(
        name="tiny",
        version=1,
        created_at=datetime.now(UTC),
        family="anode" if augment_dim else "node",
        architecture=spec,
        input=InputSpec(shape=list(input_shape)),
        classes=[f"c{i}" for i in range(classes)],
        files={},
    )
    return build_network(spec).eval(), manifest


def export_field(network: OdeClassifier) -> bytes:
    """field.onnx as training exports it: dynamic batch, float32."""
    dim = network.spec.state_dim
    batch = torch.export.Dim("batch")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _FieldAt(network.field),
            (torch.zeros(4, 1), torch.zeros(4, dim)),
            input_names=["t", "z"],
            output_names=["dz"],
            dynamo=True,
            verbose=False,
            dynamic_shapes={"t": {0: batch}, "z": {0: batch}},
        )
    return program.model_proto.SerializeToString()
