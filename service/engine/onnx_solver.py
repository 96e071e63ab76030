"""A whole per-sample Runge-Kutta solve as ONE ONNX graph: a ``Loop`` around the stored field.

torchdiffeq (and our torch loop) pay tens of microseconds of Python per step; here a step is a
few dozen ONNX Runtime kernels, so a single-point solve costs little more than its arithmetic.
The graph is built from the same Butcher tableaus and the same controller as the torch solver
and calls the version's exported ``field.onnx`` (converted to float64) as a model-local function.

At batch 1 ONNX Runtime spends ~0.5 us per kernel whatever its size, so the step is written for
the fewest kernels (56 per dopri5 step with a one-hidden-layer field, from 110; about 330 in all
for a typical moons solve, from 770):

- the stages live in one stack ``[y, h k1, ..., h kj]`` (width D(1+j)); every stage input is one
  MatMul with a constant block matrix, and when the field starts with a dense layer on z that
  matrix is multiplied into the layer's weights, so a stage input costs no kernel of its own;
- the error test compares a sum of squares with a constant (no mean, no sqrt) and the step-size
  factor is one Pow of it;
- no per-sample masks: the Loop carries the time left, a finished sample is a fixed point of the
  step, and step counts are not carried but summed once from per-iteration scan outputs;
- when every sample has the same ``max_steps`` (a single request's always do), the Loop's trip
  count is the budget (``mixed_budgets=False``), so no per-sample budget test runs per step.

Inputs: ``z0`` [B, D] f64; per-sample columns ``rtol``/``atol``/``step`` [B, 1] f64, ``max_steps`` [B, 1] i64.
Outputs: ``z1`` [B, D]; columns ``nfe``/``accepted``/``rejected`` [B, 1] i64, ``failed`` [B, 1] bool;
with a ``head``, also ``probabilities`` [B, C] = softmax(z1 W^T + b) (two kernels, where numpy's
seven small calls cost ~5% of a one-point request in the server).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter

from .integrate import DFACTOR, IFACTOR, LAST_STEP_SLACK, SAFETY
from .tableaus import ButcherTableau

F64, I64, BOOL = TensorProto.DOUBLE, TensorProto.INT64, TensorProto.BOOL
MIN_OPSET = 18  # ReduceMean/ReduceSumSquare with axes as an input
BOOL_REDUCE_OPSET = 20  # ReduceMax over bool: the Loop condition in one kernel instead of three
OUTPUTS = ("z1", "nfe", "accepted", "rejected", "failed")  # z1 [B, D]; the others [B, 1] per-sample columns
PROBABILITIES = "probabilities"  # [B, C], the extra output of a graph built with a head
_FUSE_MAX_EXTRA_MACS = 1024  # fold a stage combination into the first layer when it costs less than a kernel


class FieldConversionError(ValueError):
    """The stored field graph cannot be turned into the float64 function the solver needs."""


@dataclass(frozen=True)
class Head:
    """A classifier's read-out, softmax(z W^T + b): ``weight`` [C, D] and ``bias`` [C], float64."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class FirstLayer:
    """The field's opening dense layer on z (``z @ weight + bias``), split off so that stage
    combinations can be folded into ``weight``; ``tail`` computes dz/dt from its output."""

    weight: np.ndarray  # [D, H]
    bias: np.ndarray  # [H]
    tail: onnx.FunctionProto


def field_function(field: onnx.ModelProto) -> onnx.FunctionProto:
    """The exported field(t [B,1], z [B,D]) as a float64 local function ``odeserve.field``."""
    graph = field.graph
    if len(graph.input) != 2 or len(graph.output) != 1:
        raise FieldConversionError("field.onnx must take (t, z) and return dz")
    nodes = [_constant(init) for init in graph.initializer] + [_to_double(node) for node in graph.node]
    return helper.make_function(
        "odeserve", "field", [i.name for i in graph.input], [o.name for o in graph.output], nodes,
        opset_imports=[helper.make_opsetid("", _opset(field))],
    )


def first_layer(field: onnx.ModelProto) -> FirstLayer | None:
    """The opening ``Gemm`` on z of an autonomous field, or None when the field has no such layer."""
    graph = field.graph
    t, z = (i.name for i in graph.input)
    users = [n for n in graph.node if z in n.input]
    if _reads_time(field) or len(users) != 1 or users[0].op_type != "Gemm" or list(users[0].input[:1]) != [z]:
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
    tail = helper.make_function("odeserve", "field_tail", [gemm.output[0]], [graph.output[0].name], consts + rest,
                                opset_imports=[helper.make_opsetid("", _opset(field))])
    return FirstLayer(weight, bias, tail)


def state_dim(field: onnx.ModelProto) -> int:
    """D, from the field's declared z shape (the exporter writes it as a fixed dimension)."""
    dims = field.graph.input[1].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].dim_value:
        raise FieldConversionError("field.onnx must declare z as [batch, D] with a fixed D")
    return dims[1].dim_value


def _upgraded(field: onnx.ModelProto) -> onnx.ModelProto:
    """The field at opset >= 20 when ONNX's converter can take it there (one opset per model)."""
    if _opset(field) >= BOOL_REDUCE_OPSET:
        return field
    try:
        return version_converter.convert_version(field, BOOL_REDUCE_OPSET)
    except Exception:  # noqa: BLE001 - the converter raises bare RuntimeErrors; the old opset still works
        return field


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

    def __init__(self, prefix: str, opset: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self._ids = count()
        self.prefix, self.opset = prefix, opset

    def op(self, op_type: str, *inputs: str, domain: str = "", out: str | None = None, **attrs: object) -> str:
        out = out or f"{self.prefix}{op_type.lower()}{next(self._ids)}"
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

    def any(self, flags: str) -> str:
        """Whether any element of a bool tensor is set, as the scalar a Loop condition needs."""
        if self.opset >= BOOL_REDUCE_OPSET:
            return self.op("ReduceMax", flags, keepdims=0)
        return self.op("Cast", self.op("ReduceMax", self.op("Cast", flags, to=TensorProto.UINT8), keepdims=0), to=BOOL)


class _Stages:
    """The step's stages as one stack [B, D(1+j)] = [y, h k1, ..., h kj].

    A stage input y + sum_j a_ij h k_j is then one MatMul with the constant block matrix
    [I; a_i1 I; ...; a_ij I], and, when the field opens with a dense layer, the product of that
    matrix with the layer's weights gives the layer's pre-activation in one Gemm. Each output row
    is a dot product over its own row of the stack, so samples stay independent.
    """

    def __init__(self, b: _Builder, y: str, h: str, dim: int, layer: FirstLayer | None) -> None:
        self.b, self.h, self.dim, self.layer = b, h, dim, layer
        self.stack, self.ks = y, []

    def push(self, k: str) -> None:
        self.stack = self.b.op("Concat", self.stack, self.b.op("Mul", self.h, k), axis=1)
        self.ks.append(k)

    def _blocks(self, weights: tuple[float, ...], with_y: bool) -> np.ndarray:
        vector = np.array([1.0 if with_y else 0.0, *weights[: len(self.ks)]])
        return np.kron(vector[:, None], np.eye(self.dim))

    def combine(self, weights: tuple[float, ...], with_y: bool = True) -> str:
        """y + sum_j w_j h k_j (or without y), over the stages pushed so far."""
        return self.b.op("MatMul", self.stack, self.b.const(self._blocks(weights, with_y)))

    def evaluate(self, t: str, weights: tuple[float, ...]) -> str:
        """The field at the stage input with these weights."""
        layer, blocks = self.layer, self._blocks(weights, True)
        if layer is not None:
            width, hidden = blocks.shape[0], layer.weight.shape[1]
            if width * hidden - (width * self.dim + self.dim * hidden) <= _FUSE_MAX_EXTRA_MACS:
                pre = self.b.op("Gemm", self.stack, self.b.const(blocks @ layer.weight), self.b.const(layer.bias))
                return self.b.op("field_tail", pre, domain="odeserve")
        return self.b.field(t, self.b.op("MatMul", self.stack, self.b.const(blocks)))


_CARRIED = [("rem", F64, ["B", 1]), ("h", F64, ["B", 1]), ("y", F64, ["B", "D"]), ("f0", F64, ["B", "D"]),
            ("running", BOOL, ["B", 1])]
_SCANNED = ["attempted", "ok"]  # per-iteration [B, 1] flags, counted after the Loop


def _step_body(tab: ButcherTableau, timed: bool, dim: int, layer: FirstLayer | None, opset: int,
               mixed_budgets: bool) -> onnx.GraphProto:
    """One step for every sample, with no per-sample masks.

    The Loop carries the time left, ``rem`` = t1 - t, rather than t: the last step is exactly
    ``rem`` and leaves 0, and a finished sample is a fixed point of the step (h = 0 gives y1 = y
    bit for bit, a zero error, and the same f0), so it needs no mask. A sample past its step
    budget may go on stepping while others run; it is reported failed and its state discarded (its
    step counts then include those extra steps, unlike the torch solver's; failed samples' counts
    are never reported). ``running`` (rem > 0 at the start of the step) is what counts as an attempt.

    ``timed``: the field reads t, so stage times are computed; an autonomous field is handed t1
    (which it ignores) and no time arithmetic runs.
    """
    b = _Builder("s_", opset)
    rem, h, y, f0, running = (name for name, _, _ in _CARRIED)
    t = b.op("Sub", "t1", rem) if timed else "t1"
    last = b.op("GreaterOrEqual", h, b.op("Mul", rem, b.const(1 - LAST_STEP_SLACK)))
    hs = b.op("Where", last, rem, h)
    stages = _Stages(b, y, hs, dim, layer)
    stages.push(f0 if tab.adaptive else b.field(t, y))
    for i in range(1, tab.stages):
        ti = b.op("Add", t, b.op("Mul", hs, b.const(tab.c[i]))) if timed else t
        if tab.a[i - 1] == tab.b:  # FSAL: this stage's input is the solution; compute it once
            y1 = stages.combine(tab.b)
            stages.push(b.field(ti, y1))
        else:
            stages.push(stages.evaluate(ti, tab.a[i - 1]))
    if not (tab.a and tab.a[-1] == tab.b):
        y1 = stages.combine(tab.b)
    if tab.adaptive:
        assert tab.b_error is not None
        # the error weights carry sqrt(C) (see _growth), so squares is C * sum((err/scale)^2)
        err = stages.combine(tuple(w * np.sqrt(_growth_c(tab.order, dim)) for w in tab.b_error), with_y=False)
        scale = b.op("Add", "atol", b.op("Mul", "rtol", b.op("Max", b.op("Abs", y), b.op("Abs", y1))))
        squares = b.op("ReduceSumSquare", b.op("Div", err, scale), b.const([1], I64), keepdims=1)
        ok = b.op("LessOrEqual", squares, b.const(dim * _growth_c(tab.order, dim)))  # rms <= 1; NaN fails
        h_next = b.op("Mul", hs, _growth(b, squares, ok, tab.order))
        rem_new = b.op("Where", ok, b.op("Sub", rem, hs), rem)
        y_new, f0_new = b.op("Where", ok, y1, y), b.op("Where", ok, stages.ks[-1], f0)
    else:
        ok, h_next, f0_new = b.op("Identity", running), h, f0  # (a graph output may name an input)
        rem_new, y_new = b.op("Sub", rem, hs), y1
    running_new = b.op("Greater", rem_new, b.const(0.0))
    going = running_new
    if mixed_budgets:  # else the Loop's trip count is every sample's budget
        room = b.op("Less", "iter", "budget")  # a running sample has attempted exactly iter + 1 steps now
        going = b.op("And", running_new, room)
    outputs = [b.any(going), rem_new, h_next, y_new, f0_new, running_new, running, ok]
    inputs = [helper.make_tensor_value_info("iter", I64, []), helper.make_tensor_value_info("cond_in", BOOL, [])]
    inputs += [helper.make_tensor_value_info(n, d, s) for n, d, s in _CARRIED]
    outs = [helper.make_tensor_value_info(outputs[0], BOOL, [])]
    outs += [helper.make_tensor_value_info(o, d, s) for o, (_, d, s) in zip(outputs[1:], _CARRIED)]
    outs += [helper.make_tensor_value_info(o, BOOL, ["B", 1]) for o in outputs[len(_CARRIED) + 1:]]
    return helper.make_graph(b.nodes, f"{tab.name}_step", inputs, outs)


def _growth_c(order: int, dim: int) -> float:
    """C with SAFETY * rms^(-1/order) = (C * sum of squares)^(-1/(2 order))."""
    return SAFETY ** (-2.0 * order) / dim


def _growth(b: _Builder, squares: str, ok: str, order: int) -> str:
    """The torch solver's controller (integrate.next_step_size) on C * the sum of squares.

    SAFETY * rms^(-1/order) is one Pow (sqrt(C) is folded into the error weights); after an
    accepted step the factor is at least 1, after a rejected one at least DFACTOR (a NaN error
    compares false, so it gets DFACTOR, as nan -> inf does in torch), and never above IFACTOR (a
    zero error gives inf).
    """
    factor = b.op("Pow", squares, b.const(-0.5 / order))
    floor = b.op("Where", ok, b.const(1.0), b.const(DFACTOR))
    return b.op("Min", b.op("Where", b.op("Greater", factor, floor), factor, floor), b.const(IFACTOR))


def _initial_h(b: _Builder, tab: ButcherTableau, t: str, y0: str, f0: str, dim: int, timed: bool) -> str:
    """Hairer's starting step per sample, as integrate.initial_step does (one evaluation).

    The RMS norms there are L2 norms / sqrt(D) here, with sqrt(D) folded into the constants.
    """
    root_d = float(np.sqrt(dim))
    l2 = lambda x: b.op("ReduceL2", x, b.const([1], I64), keepdims=1)  # noqa: E731
    scale = b.op("Add", "atol", b.op("Mul", b.op("Abs", y0), "rtol"))
    d0, d1 = l2(b.op("Div", y0, scale)), l2(b.op("Div", f0, scale))
    tiny = b.op("Less", b.op("Min", d0, d1), b.const(1e-5 * root_d))
    h0 = b.op("Where", tiny, b.const(1e-6), b.op("Mul", b.const(0.01), b.op("Div", d0, d1)))
    f1 = b.field(b.op("Add", t, h0) if timed else t, b.op("Add", y0, b.op("Mul", h0, f0)))
    d2 = b.op("Div", l2(b.op("Div", b.op("Sub", f1, f0), scale)), h0)
    dmax = b.op("Max", d1, d2)
    small = b.op("Max", b.op("Mul", h0, b.const(1e-3)), b.const(1e-6))
    h1 = b.op("Where", b.op("LessOrEqual", dmax, b.const(1e-15 * root_d)), small,
              b.op("Pow", b.op("Div", b.const(0.01 * root_d), dmax), b.const(1.0 / (tab.order + 1))))
    return b.op("Min", b.op("Mul", h0, b.const(100.0)), h1)


def build_solver(tab: ButcherTableau, field: onnx.ModelProto, t0: float, t1: float, *,
                 mixed_budgets: bool = True, head: Head | None = None) -> onnx.ModelProto:
    """The solve graph for one tableau and one stored field over [t0, t1].

    ``mixed_budgets=False`` builds the variant for batches whose samples share one ``max_steps``
    (every request's own samples do): the Loop's trip count is then the budget, which saves the
    per-sample budget test in every step. ``head``: also read the class probabilities out of z1.
    """
    field = _upgraded(field)
    dim, layer, opset, timed = state_dim(field), first_layer(field), _opset(field), _reads_time(field)
    b = _Builder("m_", opset)
    b.nodes.append(helper.make_node("Constant", [], ["t1"], value=numpy_helper.from_array(np.array(t1, np.float64))))
    if mixed_budgets:
        b.op("Sub", "max_steps", b.const(1, I64), out="budget")
    rem = b.op("Add", b.op("Mul", "rtol", b.const(0.0)), b.const(t1 - t0))  # [B, 1]
    t = b.op("Sub", "t1", rem) if timed else "t1"
    if tab.adaptive:
        f0 = b.field(t, "z0")
        h = _initial_h(b, tab, t, "z0", f0, dim, timed)
    else:
        f0, h = b.op("Identity", "z0"), b.op("Identity", "step")
    running = b.op("Greater", rem, b.const(0.0))
    trip = b.op("Max", b.op("ReduceMax", "max_steps", keepdims=0), b.const(1, I64))  # >= 1 so scans have a shape
    scans = [f"{name}_scan" for name in _SCANNED]
    b.nodes.append(helper.make_node("Loop", [trip, b.const(True, BOOL), rem, h, "z0", f0, running],  # t1 > t0
                                    ["rem_end", "h_end", "z1", "f_end", "running_end", *scans],
                                    body=_step_body(tab, timed, dim, layer, opset, mixed_budgets)))
    count_ = lambda flags, out=None: b.op(  # noqa: E731
        "ReduceSum", b.op("Cast", flags, to=I64), b.const([0], I64), keepdims=0, out=out)
    attempts, accepted = count_(scans[0]), count_(b.op("And", *scans), out="accepted")
    per_attempt = tab.stages - 1 if tab.adaptive else tab.stages
    b.op("Add", b.op("Mul", attempts, b.const(per_attempt, I64)), b.const(2 if tab.adaptive else 0, I64), out="nfe")
    b.op("Sub", attempts, accepted, out="rejected")
    b.op("Or", b.op("Greater", attempts, "max_steps"), "running_end", out="failed")
    if head is not None:
        logits = b.op("Gemm", "z1", b.const(head.weight), b.const(head.bias), transB=1)
        b.op("Softmax", logits, axis=-1, out=PROBABILITIES)
    column = lambda n, d: helper.make_tensor_value_info(n, d, ["B", 1])  # noqa: E731
    inputs = [helper.make_tensor_value_info("z0", F64, ["B", "D"]), column("rtol", F64), column("atol", F64),
              column("step", F64), column("max_steps", I64)]
    outputs = [helper.make_tensor_value_info(OUTPUTS[0], F64, ["B", "D"]),
               *(column(name, BOOL if name == "failed" else I64) for name in OUTPUTS[1:])]
    if head is not None:
        outputs.append(helper.make_tensor_value_info(PROBABILITIES, F64, ["B", len(head.bias)]))
    graph = helper.make_graph(b.nodes, f"odeserve_{tab.name}", inputs, outputs)
    functions = [field_function(field)] + ([layer.tail] if layer is not None else [])
    model = helper.make_model(graph, functions=functions, opset_imports=[
        helper.make_opsetid("", opset), helper.make_opsetid("odeserve", 1)])
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    return model
