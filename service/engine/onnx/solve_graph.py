"""The whole per-sample solve over [t0, t1] as one ONNX model: the first evaluation and Hairer's
starting step, a ``Loop`` whose body is one step (:mod:`.step`), the step counts summed from the
Loop's scan outputs, and optionally the classifier's read-out. This is the graph's outside, the
part the backend sees: its inputs, its output names, and the two budget variants. It is kept apart
from the step so that the interface (below) and the per-step arithmetic can each be read whole.

Inputs: ``z0`` [B, D] f64; per-sample columns ``rtol``/``atol``/``step`` [B, 1] f64, ``max_steps`` [B, 1] i64.
Outputs: ``z1`` [B, D]; columns ``nfe``/``accepted``/``rejected`` [B, 1] i64, ``failed`` [B, 1] bool;
with a ``head``, also ``probabilities`` [B, C] = softmax(z1 W^T + b) in two kernels, which is
cheaper than the same read-out as several small numpy calls after the run.

The trajectory variant (``times=True``) also takes ``times`` [T] f64 (sorted, inside [t0, t1]) and
gives ``states_at`` [B, T, D], the states there as the torch solver's dense output computes them
(:func:`.step._emit`); its stepping, and so its other outputs, are the plain graph's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper, numpy_helper

from ..tableaus import ButcherTableau
from .builder import BOOL, DOMAIN, F64, I64, GraphBuilder
from .controller import initial_h
from .step import SCANNED, step_body
from .stored_field import field_function, field_opset, first_layer, reads_time, state_dim, upgraded

OUTPUTS = ("z1", "nfe", "accepted", "rejected", "failed")  # z1 [B, D]; the others [B, 1] per-sample columns
PROBABILITIES = "probabilities"  # [B, C], the extra output of a graph built with a head
TIMES, STATES_AT = "times", "states_at"  # the trajectory variant's extra input [T] and output [B, T, D]


@dataclass(frozen=True)
class Head:
    """A classifier's read-out, softmax(z W^T + b): ``weight`` [C, D] and ``bias`` [C], float64."""

    weight: npt.NDArray[np.float64]
    bias: npt.NDArray[np.float64]


def build_solver(
    tab: ButcherTableau,
    field: onnx.ModelProto,
    t0: float,
    t1: float,
    *,
    mixed_budgets: bool = True,
    head: Head | None = None,
    times: bool = False,
) -> onnx.ModelProto:
    """The solve graph for one tableau and one stored field over [t0, t1].

    ``mixed_budgets=False`` builds the variant for batches whose samples share one ``max_steps``
    (every request's own samples do): the Loop's trip count is then the budget, which saves the
    per-sample budget test in every step. ``head``: also read the class probabilities out of z1.
    ``times``: the trajectory variant (see the module's docstring).
    """
    field = upgraded(field)
    dim, layer, opset, timed = state_dim(field), first_layer(field), field_opset(field), reads_time(field)
    b = GraphBuilder("m_", opset)
    t1_value = numpy_helper.from_array(np.array(t1, np.float64))
    b.nodes.append(helper.make_node("Constant", [], ["t1"], value=t1_value))
    if mixed_budgets:
        b.op("Sub", "max_steps", b.const(1, I64), out="budget")
    rem = b.op("Add", b.op("Mul", "rtol", b.const(0.0)), b.const(t1 - t0))  # [B, 1]
    t = b.op("Sub", "t1", rem) if timed else "t1"
    if tab.adaptive:
        f0 = b.field(t, "z0")
        h = initial_h(b, tab, t, "z0", f0, dim, timed)
    else:
        f0, h = b.op("Identity", "z0"), b.op("Identity", "step")
    running = b.op("Greater", rem, b.const(0.0))
    # >= 1 so that the scan outputs have a shape
    trip = b.op("Max", b.op("ReduceMax", "max_steps", keepdims=0), b.const(1, I64))
    scans = [f"{name}_scan" for name in SCANNED]
    dense_in: list[str] = []
    dense_out: list[str] = []
    if times:  # times <= t0 hold z0 from the start, as in integrate()
        at_start = b.op("LessOrEqual", b.op("Add", b.op("Mul", "rtol", b.const(0.0)), TIMES), b.const(t0))
        z0_wide = b.op("Unsqueeze", "z0", b.const([1], I64))
        start = b.op("Where", b.op("Unsqueeze", at_start, b.const([2], I64)), z0_wide, b.const(0.0))
        dense_in, dense_out = [at_start, start], ["emitted_end", STATES_AT]
    b.nodes.append(
        helper.make_node(
            "Loop",
            [trip, b.const(True, BOOL), rem, h, "z0", f0, running, *dense_in],  # t1 > t0
            ["rem_end", "h_end", "z1", "f_end", "running_end", *dense_out, *scans],
            body=step_body(tab, timed, dim, layer, opset, mixed_budgets, dense=times),
        )
    )

    def count(flags: str, out: str | None = None) -> str:
        return b.op("ReduceSum", b.op("Cast", flags, to=I64), b.const([0], I64), keepdims=0, out=out)

    attempts, accepted = count(scans[0]), count(b.op("And", *scans), out="accepted")
    per_attempt = tab.stages - 1 if tab.adaptive else tab.stages
    evaluations = b.op("Mul", attempts, b.const(per_attempt, I64))
    b.op("Add", evaluations, b.const(2 if tab.adaptive else 0, I64), out="nfe")
    b.op("Sub", attempts, accepted, out="rejected")
    b.op("Or", b.op("Greater", attempts, "max_steps"), "running_end", out="failed")
    if head is not None:
        logits = b.op("Gemm", "z1", b.const(head.weight), b.const(head.bias), transB=1)
        b.op("Softmax", logits, axis=-1, out=PROBABILITIES)

    def column(name: str, dtype: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, dtype, ["B", 1])

    inputs = [
        helper.make_tensor_value_info("z0", F64, ["B", "D"]),
        column("rtol", F64),
        column("atol", F64),
        column("step", F64),
        column("max_steps", I64),
    ]
    if times:
        inputs.append(helper.make_tensor_value_info(TIMES, F64, ["T"]))
    outputs = [
        helper.make_tensor_value_info(OUTPUTS[0], F64, ["B", "D"]),
        *(column(name, BOOL if name == "failed" else I64) for name in OUTPUTS[1:]),
    ]
    if head is not None:
        outputs.append(helper.make_tensor_value_info(PROBABILITIES, F64, ["B", len(head.bias)]))
    if times:
        outputs.append(helper.make_tensor_value_info(STATES_AT, F64, ["B", "T", "D"]))
    graph = helper.make_graph(b.nodes, f"odeserve_{tab.name}", inputs, outputs)
    functions = [field_function(field)] + ([layer.tail] if layer is not None else [])
    model = helper.make_model(
        graph,
        functions=functions,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(DOMAIN, 1)],
    )
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    return model
