"""The protocol's tensor datatypes as numpy dtypes, and tensors in their binary form.

Binary tensor data is little-endian whatever the host (the protocol says so; numpy's native order
is the host's). A BYTES element is a 4-byte little-endian length followed by that many bytes.
"""

from __future__ import annotations

import struct

import numpy as np

DTYPES: dict[str, np.dtype] = {
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "INT64": np.dtype("<i8"),
}
"""The numeric datatypes this server reads or writes."""


def to_bytes(array: np.ndarray, datatype: str) -> bytes:
    """The tensor's raw bytes, row-major."""
    if datatype == "BYTES":
        return b"".join(_length_prefixed(str(item).encode()) for item in array.ravel())
    return np.ascontiguousarray(array, dtype=DTYPES[datatype]).tobytes()


def from_bytes(raw: bytes, datatype: str) -> np.ndarray:
    """A numeric tensor's flat values from its raw bytes (the caller checks the size first)."""
    return np.frombuffer(raw, dtype=DTYPES[datatype])


def _length_prefixed(item: bytes) -> bytes:
    return struct.pack("<I", len(item)) + item
