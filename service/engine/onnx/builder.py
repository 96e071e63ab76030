"""The vocabulary every solve-graph module shares: tensor types, the opsets the graph relies on,
the names of the model-local field functions, and :class:`GraphBuilder`, which appends nodes and
hands back their output names. It exists so that graph code reads like the arithmetic it encodes
(one call per kernel, no ``NodeProto`` plumbing) and so that node names come from one counter
per graph: the same build always gives the same graph, node for node.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import numpy as np
import numpy.typing as npt
from onnx import NodeProto, TensorProto, helper, numpy_helper

F64, I64, BOOL = TensorProto.DOUBLE, TensorProto.INT64, TensorProto.BOOL
MIN_OPSET = 18  # ReduceMean/ReduceSumSquare with axes as an input
BOOL_REDUCE_OPSET = 20  # ReduceMax over bool: the Loop condition in one kernel instead of three

DOMAIN = "odeserve"  # the domain of the model-local functions below
FIELD = "field"  # field(t [B, 1], z [B, D]) -> dz/dt [B, D], the stored field.onnx in float64
FIELD_TAIL = "field_tail"  # the field after its opening dense layer (see stored_field.first_layer)

_NUMPY_TYPES: dict[int, type[np.generic]] = {F64: np.float64, I64: np.int64, BOOL: np.bool_}


class GraphBuilder:
    """Appends nodes with unique names; every method returns the output name.

    Inside the graph every per-sample scalar is a column [B, 1], so it broadcasts against the
    states [B, D] without reshapes.
    """

    def __init__(self, prefix: str, opset: int) -> None:
        self.nodes: list[NodeProto] = []
        self._ids = count()
        self.prefix, self.opset = prefix, opset

    # attrs are Any as in helper.make_node: a narrower type also matches its name/doc_string parameters
    def op(self, op_type: str, *inputs: str, domain: str = "", out: str | None = None, **attrs: Any) -> str:
        out = out or f"{self.prefix}{op_type.lower()}{next(self._ids)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out

    def const(self, value: npt.ArrayLike, dtype: int = F64) -> str:
        out = f"{self.prefix}c{next(self._ids)}"
        array = np.array(value, _NUMPY_TYPES[dtype])
        self.nodes.append(helper.make_node("Constant", [], [out], value=numpy_helper.from_array(array)))
        return out

    def field(self, t: str, z: str) -> str:
        """Call the field at per-sample times ``t`` [B, 1]."""
        return self.op(FIELD, t, z, domain=DOMAIN)

    def any(self, flags: str) -> str:
        """Whether any element of a bool tensor is set, as the scalar a Loop condition needs."""
        if self.opset >= BOOL_REDUCE_OPSET:
            return self.op("ReduceMax", flags, keepdims=0)
        as_bytes = self.op("Cast", flags, to=TensorProto.UINT8)
        return self.op("Cast", self.op("ReduceMax", as_bytes, keepdims=0), to=BOOL)
