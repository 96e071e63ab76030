"""The engine's answers as the protocol's output tensors, and the response that carries those asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from starlette.responses import Response

from service.engine import Prediction, SolverConfig, Trajectory
from service.lifecycle.loading import LoadedVersion

from .datatypes import DTYPES, to_bytes
from .framing import framed_response
from .schemas import InferRequest, InferResponse, OutputParameters, RequestOutput, ResponseOutput


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    array: np.ndarray


def prediction_tensors(pred: Prediction, classes: Sequence[str], float_type: str) -> dict[str, Tensor]:
    """probabilities in the input's float type (the caller's precision), labels by name and index, NFE.

    No accepted/rejected step tensors: methods run through torchdiffeq do not report them, and an
    INT64 tensor has no null. A -1 would be summed by the unwary, and an output the model metadata
    declares but an answer sometimes leaves out breaks Triton clients that ask for it by name; v1
    answers carry them (null when unknown).
    """
    labels = np.asarray(pred.labels, dtype=np.int64)
    tensors = (
        Tensor("probabilities", float_type, np.asarray(pred.probabilities, dtype=DTYPES[float_type])),
        Tensor("label", "BYTES", np.array([classes[i] for i in labels], dtype=object)),
        Tensor("label_index", "INT64", labels),
        Tensor("nfe", "INT64", np.asarray(pred.nfe, dtype=np.int64)),
    )
    return {t.name: t for t in tensors}


def trajectory_tensors(traj: Trajectory, classes: Sequence[str], float_type: str) -> dict[str, Tensor]:
    """The final answer's tensors, plus z(t) [T, B, D] and the times, in float64 always."""
    return {
        **prediction_tensors(traj.final, classes, float_type),
        "trajectory": Tensor("trajectory", "FP64", np.asarray(traj.states, dtype=np.float64)),
        "times": Tensor("times", "FP64", np.asarray(traj.times, dtype=np.float64)),
    }


def classification(probs: Tensor, k: int, classes: Sequence[str]) -> Tensor:
    """The classification extension: each sample's top k as Triton writes them, 'prob:index:label'."""
    top = np.argsort(-probs.array, axis=1, kind="stable")[:, :k]
    rows = [[f"{p[i]:f}:{i}:{classes[i]}" for i in order] for p, order in zip(probs.array, top, strict=True)]
    return Tensor(probs.name, "BYTES", np.array(rows, dtype=object).reshape(len(rows), -1))


def encode_response(
    request: InferRequest,
    loaded: LoadedVersion,
    tensors: dict[str, Tensor],
    cfg: SolverConfig,
    batch_invariant: bool,
) -> Response:
    """The outputs asked for (all when none are named), JSON or raw bytes each as asked."""
    # the tensors' keys are output names, typed str; RequestOutput's name is their Literal
    wanted = request.outputs or [RequestOutput(name=name) for name in tensors]  # type: ignore[arg-type]
    outputs, blobs = [], []
    for out in wanted:
        params = out.parameters or OutputParameters()
        tensor = tensors[out.name]
        if params.classification:
            tensor = classification(tensor, params.classification, loaded.manifest.classes)
        binary = request.parameters.binary_data_output if params.binary_data is None else params.binary_data
        blob = to_bytes(tensor.array, tensor.datatype) if binary else None
        outputs.append(_output(tensor, blob))
        blobs += [blob] if blob is not None else []
    header = InferResponse.model_construct(
        model_name=loaded.name,
        model_version=str(loaded.version),
        id=request.id,
        parameters={**cfg.as_dict(), "batch_invariant": batch_invariant},
        outputs=outputs,
    )
    return framed_response(header.model_dump_json(exclude_none=True).encode(), blobs)


def _output(tensor: Tensor, blob: bytes | None) -> ResponseOutput:
    shape = list(tensor.array.shape)
    if blob is not None:
        return ResponseOutput.model_construct(
            name=tensor.name,
            datatype=tensor.datatype,
            shape=shape,
            parameters={"binary_data_size": len(blob)},
        )
    return ResponseOutput.model_construct(
        name=tensor.name, datatype=tensor.datatype, shape=shape, data=tensor.array.ravel().tolist()
    )
