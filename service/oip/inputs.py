"""The request's input tensor as the engine's float64 batch, checked like /v1's inputs."""

from __future__ import annotations

import math

import numpy as np

from models_store import Manifest
from service.codec import decode_inputs
from service.errors import InputShapeError, InvalidRequest
from service.settings import Settings

from .datatypes import DTYPES, from_bytes
from .schemas import RequestInput


def decode_input(tensor: RequestInput, raw: bytes | None, manifest: Manifest, limits: Settings) -> np.ndarray:
    """float64 [B, *input shape]. Values are read in the tensor's datatype first, so FP32 sent as JSON
    and FP32 sent as bytes give the same numbers (and the same answer)."""
    count = math.prod(tensor.shape)
    values = _from_raw(tensor, raw, count) if raw is not None else _from_json(tensor, count)
    if not np.isfinite(values).all():
        raise InvalidRequest(f"input {tensor.name!r} holds NaN or infinity (in {tensor.datatype})")
    if tensor.shape[0] == 0:
        raise InputShapeError(f"input {tensor.name!r} has no samples (shape {tensor.shape})")
    return decode_inputs(list(values.reshape(tensor.shape)), manifest, limits)


def _from_raw(tensor: RequestInput, raw: bytes, count: int) -> np.ndarray:
    if tensor.data is not None:
        raise InvalidRequest(f"input {tensor.name!r} has both data and binary_data_size: send one")
    expected = count * DTYPES[tensor.datatype].itemsize
    if len(raw) != expected:
        raise InputShapeError(
            f"input {tensor.name!r} has {len(raw)} bytes; shape {tensor.shape} of "
            f"{tensor.datatype} needs {expected}"
        )
    return from_bytes(raw, tensor.datatype)


def _from_json(tensor: RequestInput, count: int) -> np.ndarray:
    if tensor.data is None:
        raise InvalidRequest(f"input {tensor.name!r} has neither data nor parameters.binary_data_size")
    try:
        values = np.asarray(tensor.data)
    except ValueError:  # ragged nesting
        values = np.empty(0, dtype=object)
    if values.dtype.kind not in "iuf":
        raise InvalidRequest(
            f"input {tensor.name!r}: data must be numbers in row-major order, flat or evenly nested"
        )
    if values.size != count:
        raise InputShapeError(
            f"input {tensor.name!r} has {values.size} values; shape {tensor.shape} needs {count}",
            {"shape": tensor.shape, "values": int(values.size)},
        )
    with np.errstate(over="ignore"):  # out of FP32's range: infinity, refused by the caller
        return values.ravel().astype(DTYPES[tensor.datatype])
