"""A whole per-sample Runge-Kutta solve as ONE ONNX graph: a ``Loop`` around the stored field.

torchdiffeq (and our torch loop) pay tens of microseconds of Python per step; here a step is a
few dozen ONNX Runtime kernels, so a single-point solve costs about as much as its arithmetic.
The graph is built from the same Butcher tableaus as the torch solver and calls the version's
exported ``field.onnx`` (converted to float64) as a model-local function, once per stage.

Inputs: ``z0`` [B, D] f64, ``rtol``/``atol``/``step`` [B] f64, ``max_steps`` [B] i64.
Outputs: ``z1`` [B, D], ``nfe``/``accepted``/``rejected`` [B] i64, ``failed`` [B] bool.
"""

from __future__ import annotations

from itertools import count

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .integrate import DFACTOR, IFACTOR, LAST_STEP_SLACK, SAFETY
from .tableaus import ButcherTableau

F64, I64, BOOL = TensorProto.DOUBLE, TensorProto.INT64, TensorProto.BOOL
MIN_OPSET = 18  # ReduceMean with axes as an input


class FieldConversionError(ValueError):
    """The stored field graph cannot be turned into the float64 function the solver needs."""


def field_function(field: onnx.ModelProto) -> onnx.FunctionProto:
    """The exported field(t [B,1], z [B,D]) as a float64 local function ``odeserve.field``."""
    graph = field.graph
    if len(graph.input) != 2 or len(graph.output) != 1:
        raise FieldConversionError("field.onnx must take (t, z) and return dz")
    nodes = [_constant(init) for init in graph.initializer]
    for node in graph.node:
        node = _to_double(node)
        nodes.append(node)
    return helper.make_function(
        "odeserve", "field", [i.name for i in graph.input], [o.name for o in graph.output], nodes,
        opset_imports=[helper.make_opsetid("", _opset(field))],
    )


def _reads_time(field: onnx.ModelProto) -> bool:
    """Whether the field's first input (t) feeds any node (False for autonomous fields)."""
    t = field.graph.input[0].name
    return any(t in node.input for node in field.graph.node)


def _opset(model: onnx.ModelProto) -> int:
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
            attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float64), attr.t.name))
        if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise FieldConversionError(f"field.onnx uses control flow ({copy.op_type}); not supported")
    return copy


class _Builder:
    """Appends nodes with unique names; every method returns the output name.

    Inside the graph every per-sample scalar is a column [B, 1], so it broadcasts against the
    states [B, D] without reshapes.
    """

    def __init__(self, prefix: str) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self._ids = count()
        self.prefix = prefix

    def op(self, op_type: str, *inputs: str, domain: str = "", **attrs: object) -> str:
        out = f"{self.prefix}{op_type.lower()}{next(self._ids)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out

    def const(self, value: object, dtype: int = F64) -> str:
        np_type = {F64: np.float64, I64: np.int64, BOOL: np.bool_}[dtype]
        out = f"{self.prefix}c{next(self._ids)}"
        self.nodes.append(helper.make_node("Constant", [], [out], value=numpy_helper.from_array(np.array(value, np_type))))
        return out

    def field(self, t: str, z: str) -> str:
        """Call the field at per-sample times ``t`` [B, 1]."""
        return self.op("field", t, z, domain="odeserve")

    def rms(self, x: str) -> str:
        """Per-sample root mean square [B, 1]."""
        return self.op("Sqrt", self.op("ReduceMean", self.op("Mul", x, x), self.const([1], I64), keepdims=1))


class _Stages:
    """The step's stages as one stack [B, D, 1 + s] = [y, h*k1, ..., h*ks].

    Every stage input and the solution are then one MatMul with a constant weight vector
    [1, a_i1, ...] instead of a chain of multiply-adds (fewer kernels per step); each output
    element is still a short dot product over its own row, so rows stay independent.
    """

    def __init__(self, b: _Builder, y: str, h: str) -> None:
        self.b, self.h = b, h
        self.stack = b.op("Unsqueeze", y, b.const([2], I64))
        self.ks: list[str] = []

    def push(self, k: str) -> None:
        b = self.b
        hk = b.op("Unsqueeze", b.op("Mul", self.h, k), b.const([2], I64))
        self.stack = b.op("Concat", self.stack, hk, axis=2)
        self.ks.append(k)

    def combine(self, weights: tuple[float, ...], with_y: bool = True) -> str:
        """y + sum_j w_j h k_j (or without y), over the stages pushed so far."""
        vector = [1.0 if with_y else 0.0, *weights[: len(self.ks)]]
        return self.b.op("MatMul", self.stack, self.b.const(vector))


def _step_body(tab: ButcherTableau, timed: bool) -> onnx.GraphProto:
    """One step for every sample; finished samples are carried through unchanged.

    ``timed``: the field reads t; an autonomous field gets the step's start time at every stage
    (it ignores it), which saves computing the stage times.
    """
    b = _Builder("s_")
    t, h, y, f0, active, done, nfe, acc, rej = "t", "h", "y", "f0", "active", "done", "nfe", "acc", "rej"
    rem = b.op("Sub", "t1", t)
    last = b.op("GreaterOrEqual", h, b.op("Mul", rem, b.const(1 - LAST_STEP_SLACK)))
    hs = b.op("Where", last, rem, h)
    stages = _Stages(b, y, hs)
    stages.push(f0 if tab.adaptive else b.field(t, y))
    for i in range(1, tab.stages):
        yi = stages.combine(tab.a[i - 1])
        ti = b.op("Add", t, b.op("Mul", hs, b.const(tab.c[i]))) if timed else t
        stages.push(b.field(ti, yi))
    y1 = stages.combine(tab.b)
    k_last = stages.ks[-1]
    if tab.adaptive:
        assert tab.b_error is not None
        err = stages.combine(tab.b_error, with_y=False)
        scale = b.op("Add", "atol_c", b.op("Mul", "rtol_c", b.op("Max", b.op("Abs", y), b.op("Abs", y1))))
        ratio = b.rms(b.op("Div", err, scale))
        accept = b.op("And", active, b.op("LessOrEqual", ratio, b.const(1.0)))
        h_next = b.op("Where", active, _next_h(b, hs, ratio, tab.order), h)
        spent = tab.stages - 1
    else:
        accept, h_next, spent = active, h, tab.stages
    t_new = b.op("Where", accept, b.op("Where", last, b.op("Max", t, "t1"), b.op("Add", t, hs)), t)
    y_new = b.op("Where", accept, y1, y)
    f0_new = b.op("Where", accept, k_last, f0) if tab.adaptive else f0
    as_int = lambda v: b.op("Cast", v, to=I64)  # noqa: E731
    acc_new = b.op("Add", acc, as_int(accept))
    rej_new = b.op("Add", rej, as_int(b.op("And", active, b.op("Not", accept))))
    nfe_new = b.op("Add", nfe, b.op("Mul", as_int(active), b.const(spent, I64)))
    done_new = b.op("Or", done, b.op("And", accept, last))
    room = b.op("Less", b.op("Add", acc_new, rej_new), "max_steps_c")
    active_new = b.op("And", b.op("And", active, b.op("Not", done_new)), room)
    cond = b.op("Greater", b.op("ReduceMax", as_int(active_new), keepdims=0), b.const(0, I64))
    names = [cond, t_new, h_next, y_new, f0_new, active_new, done_new, nfe_new, acc_new, rej_new]
    outputs = [b.op("Identity", n) for n in names]
    inputs = [helper.make_tensor_value_info("iter", I64, []), helper.make_tensor_value_info("cond_in", BOOL, [])]
    inputs += [helper.make_tensor_value_info(n, d, s) for n, d, s in _CARRIED]
    outs = [helper.make_tensor_value_info(outputs[0], BOOL, [])]
    outs += [helper.make_tensor_value_info(o, d, s) for o, (_, d, s) in zip(outputs[1:], _CARRIED)]
    return helper.make_graph(b.nodes, f"{tab.name}_step", inputs, outs)


_CARRIED = [("t", F64, ["B", 1]), ("h", F64, ["B", 1]), ("y", F64, ["B", "D"]), ("f0", F64, ["B", "D"]),
            ("active", BOOL, ["B", 1]), ("done", BOOL, ["B", 1]), ("nfe", I64, ["B", 1]), ("acc", I64, ["B", 1]),
            ("rej", I64, ["B", 1])]


def _next_h(b: _Builder, h: str, ratio: str, order: int) -> str:
    """The torch solver's controller (integrate.next_step_size), in graph form."""
    safe = b.op("Where", b.op("IsNaN", ratio), b.const(float("inf")), ratio)
    factor = b.op("Mul", b.op("Pow", b.op("Max", safe, b.const(1e-300)), b.const(-1.0 / order)), b.const(SAFETY))
    dfactor = b.op("Where", b.op("Less", safe, b.const(1.0)), b.const(1.0), b.const(DFACTOR))
    return b.op("Mul", h, b.op("Min", b.const(IFACTOR), b.op("Max", factor, dfactor)))


def _initial_h(b: _Builder, tab: ButcherTableau, t: str, y0: str, f0: str) -> str:
    """Hairer's starting step per sample, as integrate.initial_step does (one evaluation)."""
    scale = b.op("Add", "atol_c", b.op("Mul", b.op("Abs", y0), "rtol_c"))
    d0, d1 = b.rms(b.op("Div", y0, scale)), b.rms(b.op("Div", f0, scale))
    tiny = b.op("Or", b.op("Less", d0, b.const(1e-5)), b.op("Less", d1, b.const(1e-5)))
    h0 = b.op("Where", tiny, b.const(1e-6), b.op("Mul", b.const(0.01), b.op("Div", d0, d1)))
    f1 = b.field(b.op("Add", t, h0), b.op("Add", y0, b.op("Mul", h0, f0)))
    d2 = b.op("Div", b.rms(b.op("Div", b.op("Sub", f1, f0), scale)), h0)
    dmax = b.op("Max", d1, d2)
    small = b.op("Max", b.op("Mul", h0, b.const(1e-3)), b.const(1e-6))
    h1 = b.op("Where", b.op("LessOrEqual", dmax, b.const(1e-15)), small,
              b.op("Pow", b.op("Div", b.const(0.01), dmax), b.const(1.0 / (tab.order + 1))))
    return b.op("Min", b.op("Mul", h0, b.const(100.0)), h1)


def build_solver(tab: ButcherTableau, field: onnx.ModelProto, t0: float, t1: float) -> onnx.ModelProto:
    """The solve graph for one tableau and one stored field over [t0, t1]."""
    b = _Builder("m_")
    b.nodes.append(helper.make_node("Constant", [], ["t1"], value=numpy_helper.from_array(np.array(t1, np.float64))))
    axis1 = b.const([1], I64)
    for name in ("rtol", "atol", "step", "max_steps"):
        b.nodes.append(helper.make_node("Unsqueeze", [name, axis1], [f"{name}_c"]))
    t = b.op("Add", b.op("Mul", "rtol_c", b.const(0.0)), b.const(t0))  # [B, 1] of t0
    zeros_i = b.op("Cast", b.op("Mul", "rtol_c", b.const(0.0)), to=I64)
    active = b.op("Greater", "max_steps_c", b.const(0, I64))
    done = b.op("Not", b.op("Equal", active, active))
    if tab.adaptive:
        f0 = b.field(t, "z0")
        h = _initial_h(b, tab, t, "z0", f0)
        nfe = b.op("Add", zeros_i, b.const(2, I64))
    else:
        f0, h, nfe = b.op("Identity", "z0"), b.op("Identity", "step_c"), zeros_i
    trip = b.op("ReduceMax", "max_steps", keepdims=0)
    loop_out = ["t_end", "h_end", "z1", "f_end", "active_end", "done_end", "nfe_c", "acc_c", "rej_c"]
    b.nodes.append(helper.make_node("Loop", [trip, b.const(True, BOOL), t, h, "z0", f0, active, done, nfe,
                                             zeros_i, zeros_i], loop_out, body=_step_body(tab, _reads_time(field))))
    for column, out in (("nfe_c", "nfe"), ("acc_c", "accepted"), ("rej_c", "rejected")):
        b.nodes.append(helper.make_node("Squeeze", [column, axis1], [out]))
    b.nodes.append(helper.make_node("Squeeze", [b.op("Not", "done_end"), axis1], ["failed"]))
    vec = lambda n, d: helper.make_tensor_value_info(n, d, ["B"])  # noqa: E731
    inputs = [helper.make_tensor_value_info("z0", F64, ["B", "D"]), vec("rtol", F64), vec("atol", F64),
              vec("step", F64), vec("max_steps", I64)]
    outputs = [helper.make_tensor_value_info("z1", F64, ["B", "D"]), vec("nfe", I64), vec("accepted", I64),
               vec("rejected", I64), vec("failed", BOOL)]
    graph = helper.make_graph(b.nodes, f"odeserve_{tab.name}", inputs, outputs)
    model = helper.make_model(graph, functions=[field_function(field)], opset_imports=[
        helper.make_opsetid("", _opset(field)), helper.make_opsetid("odeserve", 1)])
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    return model
