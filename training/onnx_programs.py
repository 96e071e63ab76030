"""The network as three portable ONNX programs, each checked against torch before it is kept.

    encoder.onnx   x [B, *input_shape] -> h [B, encoded_dim]   (before the zero augmentation)
    field.onnx     t [B, 1], z [B, state_dim] -> dz [B, state_dim]   (one time per sample)
    head.onnx      z [B, state_dim] -> logits [B, num_classes]

The batch axis is dynamic. torch 2.13's default (torch.export-based) exporter is used: unlike
the deprecated TorchScript exporter it keeps ``t`` as an input even when the field ignores it,
so every field program has the same signature.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from models_store import ENCODER_ONNX, FIELD_ONNX, HEAD_ONNX, OdeClassifier

from .errors import ExportError

OPSET = 18
TOLERANCE = 1e-5
_EXAMPLE_BATCH, _CHECK_BATCH = 3, 5  # checked at a batch size other than the traced one


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs optional-dependency notices and deprecation warnings; keep stderr clean."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], inputs: list[str], output: str) -> bytes:
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        program = torch.onnx.export(
            module,
            args,
            input_names=inputs,
            output_names=[output],
            opset_version=OPSET,
            dynamo=True,
            dynamic_shapes=tuple({0: batch} for _ in args),
            verbose=False,
        )
    if program is None:  # torch.onnx.export returns None only from the legacy (dynamo=False) exporter
        raise ExportError("torch.onnx.export returned no program")
    proto = program.model_proto
    _drop_stack_traces(proto)
    data: bytes = proto.SerializeToString()  # protobuf messages are untyped here
    return data


_STACK_TRACE = "pkg.torch.onnx.stack_trace"


def _drop_stack_traces(proto: Any) -> None:
    """Remove the exporter's per-node Python stack traces: they name this checkout's absolute path
    and line numbers, so the same weights would export to different bytes on another machine or
    after an unrelated edit (the demo store is rebuilt byte for byte). The graph is untouched."""
    graphs = [proto.graph, *(f for f in proto.functions)]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            kept = [p for p in node.metadata_props if p.key != _STACK_TRACE]
            del node.metadata_props[:]
            node.metadata_props.extend(kept)
            graphs.extend(a.g for a in node.attribute if a.HasField("g"))  # a Loop's or If's body


def _check(filename: str, program: bytes, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
    """Refuse a program whose outputs differ from torch's by more than TOLERANCE."""
    session = ort.InferenceSession(program, providers=["CPUExecutionProvider"])
    feeds = {meta.name: arg.numpy() for meta, arg in zip(session.get_inputs(), args, strict=True)}
    got = session.run(None, feeds)[0]
    with torch.no_grad():
        want = module(*args).numpy()
    error = float(np.max(np.abs(got - want), initial=0.0))
    if got.shape != want.shape or not error <= TOLERANCE:
        raise ExportError(f"{filename} disagrees with torch (max |diff| {error:.3g} > {TOLERANCE:g})")


def _sample_args(
    network: OdeClassifier, batch: int, generator: torch.Generator
) -> dict[str, tuple[torch.Tensor, ...]]:
    spec = network.spec
    x = torch.rand(batch, *spec.input_shape, generator=generator) * 2 - 1
    t = torch.rand(batch, 1, generator=generator)
    z = torch.randn(batch, spec.state_dim, generator=generator)
    return {ENCODER_ONNX: (x,), FIELD_ONNX: (t, z), HEAD_ONNX: (z,)}


def export_programs(network: OdeClassifier, seed: int = 0) -> dict[str, bytes]:
    """The three programs (float32), each verified with onnxruntime on fresh random inputs."""
    network = network.float().eval()
    modules = {ENCODER_ONNX: network.encoder, FIELD_ONNX: network.field, HEAD_ONNX: network.head}
    signatures = {
        ENCODER_ONNX: (["x"], "h"),
        FIELD_ONNX: (["t", "z"], "dz"),
        HEAD_ONNX: (["z"], "logits"),
    }
    generator = torch.Generator().manual_seed(seed)
    examples = _sample_args(network, _EXAMPLE_BATCH, generator)
    checks = _sample_args(network, _CHECK_BATCH, generator)
    programs = {}
    for filename, module in modules.items():
        programs[filename] = _export(module, examples[filename], *signatures[filename])
        _check(filename, programs[filename], module, checks[filename])
    return programs
