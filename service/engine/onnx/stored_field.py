"""The version's stored ``field.onnx`` (float32, as training exports it) turned into what the
solve graph calls: a float64 model-local function, and, for an autonomous field that opens with a
dense layer on z, that layer's weights split off from the rest so that stage combinations can be
folded into them. It is its own module because it is the one place that reads someone else's
graph: what the solver assumes about an exported field (two inputs, a fixed D, no control flow, an
opset new enough) lives here, and a field that breaks it is refused with
:class:`FieldConversionError`, which the backend selection takes as a reason to serve with torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter

from .builder import BOOL_REDUCE_OPSET, DOMAIN, F64, FIELD, FIELD_TAIL, MIN_OPSET


class FieldConversionError(ValueError):
    """The stored field graph cannot be turned into the float64 function the solver needs."""


@dataclass(frozen=True)
class FirstLayer:
    """The field's opening dense layer on z (``z @ weight + bias``), split off so that stage
    combinations can be folded into ``weight``; ``tail`` computes dz/dt from its output."""

    weight: npt.NDArray[np.float64]  # [D, H]
    bias: npt.NDArray[np.float64]  # [H]
    tail: onnx.FunctionProto


def field_function(field: onnx.ModelProto) -> onnx.FunctionProto:
    """The exported field(t [B,1], z [B,D]) as a float64 local function ``odeserve.field``."""
    graph = field.graph
    if len(graph.input) != 2 or len(graph.output) != 1:
        raise FieldConversionError("field.onnx must take (t, z) and return dz")
    nodes = [_constant(init) for init in graph.initializer] + [_to_double(node) for node in graph.node]
    return helper.make_function(
        DOMAIN,
        FIELD,
        [i.name for i in graph.input],
        [o.name for o in graph.output],
        nodes,
        opset_imports=[helper.make_opsetid("", field_opset(field))],
    )


def first_layer(field: onnx.ModelProto) -> FirstLayer | None:
    """The opening ``Gemm`` on z of an autonomous field, or None when the field has no such layer."""
    graph = field.graph
    _, z = (i.name for i in graph.input)
    users = [n for n in graph.node if z in n.input]
    if reads_time(field) or len(users) != 1 or users[0].op_type != "Gemm" or list(users[0].input[:1]) != [z]:
        return None
    gemm = users[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in graph.initializer}
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None
    if len(gemm.input) != 3 or gemm.input[1] not in inits or gemm.input[2] not in inits:
        return None
    weight = inits[gemm.input[1]].T if attrs.get("transB", 0) else inits[gemm.input[1]]
    bias = inits[gemm.input[2]]
    if weight.ndim != 2 or bias.shape != (weight.shape[1],):
        return None
    rest = [_to_double(n) for n in graph.node if n is not gemm]
    consts = [_constant(i) for i in graph.initializer if any(i.name in n.input for n in rest)]
    tail = helper.make_function(
        DOMAIN,
        FIELD_TAIL,
        [gemm.output[0]],
        [graph.output[0].name],
        consts + rest,
        opset_imports=[helper.make_opsetid("", field_opset(field))],
    )
    return FirstLayer(weight, bias, tail)


def state_dim(field: onnx.ModelProto) -> int:
    """D, from the field's declared z shape (the exporter writes it as a fixed dimension)."""
    dims = field.graph.input[1].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].dim_value:
        raise FieldConversionError("field.onnx must declare z as [batch, D] with a fixed D")
    return int(dims[1].dim_value)


def upgraded(field: onnx.ModelProto) -> onnx.ModelProto:
    """The field at opset >= 20 when ONNX's converter can take it there (one opset per model)."""
    if field_opset(field) >= BOOL_REDUCE_OPSET:
        return field
    try:
        return version_converter.convert_version(field, BOOL_REDUCE_OPSET)
    except Exception:  # noqa: BLE001 - the converter raises bare RuntimeErrors; the old opset still works
        return field


def reads_time(field: onnx.ModelProto) -> bool:
    """Whether the field's first input (t) feeds any node (False for autonomous fields)."""
    t = field.graph.input[0].name
    return any(t in node.input for node in field.graph.node)


def field_opset(model: onnx.ModelProto) -> int:
    """The model's default-domain opset, refused below :data:`MIN_OPSET`."""
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if version < MIN_OPSET:
        raise FieldConversionError(f"field.onnx uses opset {version}; the solver graph needs >= {MIN_OPSET}")
    return version


def _constant(init: TensorProto) -> onnx.NodeProto:
    array = numpy_helper.to_array(init)
    if array.dtype == np.float32:
        array = array.astype(np.float64)
    return helper.make_node("Constant", [], [init.name], value=numpy_helper.from_array(array, init.name))


def _to_double(node: onnx.NodeProto) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    for attr in copy.attribute:
        if attr.name == "to" and attr.i == TensorProto.FLOAT:
            attr.i = F64
        if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
            doubled = numpy_helper.to_array(attr.t).astype(np.float64)
            attr.t.CopyFrom(numpy_helper.from_array(doubled, attr.t.name))
        if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise FieldConversionError(f"field.onnx uses control flow ({copy.op_type}); not supported")
    return copy
