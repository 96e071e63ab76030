"""One Runge-Kutta step for every sample of the batch at once, as the body graph of the solve's
``Loop``: stages from the Butcher tableau, the embedded error test, the controller's next step,
and the per-sample bookkeeping. It is written with no per-sample masks (a finished sample is a
fixed point of the step, see :func:`step_body`), because masking every carried tensor would add
kernels to every step of every solve; this module is where that invariant is kept, and
:data:`CARRIED` / :data:`SCANNED` are the contract with the Loop that :mod:`.solve_graph` builds.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..integrate import LAST_STEP_SLACK
from ..tableaus import ButcherTableau
from .builder import BOOL, F64, I64, GraphBuilder
from .controller import growth, growth_c
from .stages import StageStack
from .stored_field import FirstLayer

Shape = list[str | int]

# the Loop-carried state, in the Loop's order: (name, element type, shape)
CARRIED: list[tuple[str, int, Shape]] = [
    ("rem", F64, ["B", 1]),
    ("h", F64, ["B", 1]),
    ("y", F64, ["B", "D"]),
    ("f0", F64, ["B", "D"]),
    ("running", BOOL, ["B", 1]),
]
SCANNED = ["attempted", "ok"]  # per-iteration [B, 1] flags, counted after the Loop


def step_body(
    tab: ButcherTableau, timed: bool, dim: int, layer: FirstLayer | None, opset: int, mixed_budgets: bool
) -> onnx.GraphProto:
    """One step for every sample, with no per-sample masks.

    The Loop carries the time left, ``rem`` = t1 - t, rather than t: the last step is exactly
    ``rem`` and leaves 0, and a finished sample is a fixed point of the step (h = 0 gives y1 = y
    bit for bit, a zero error, and the same f0), so it needs no mask. A sample past its step
    budget may go on stepping while others run; it is reported failed and its state discarded (its
    step counts then include those extra steps, unlike the torch solver's; failed samples' counts
    are never reported). ``running`` (rem > 0 at the start of the step) is what counts as an attempt.

    ``timed``: the field reads t, so stage times are computed; an autonomous field is handed t1
    (which it ignores) and no time arithmetic runs. The body reads ``t1``, ``rtol``, ``atol`` and,
    with ``mixed_budgets``, ``budget`` (max_steps - 1) from the enclosing graph by name.
    """
    b = GraphBuilder("s_", opset)
    rem, h, y, f0, running = (name for name, _, _ in CARRIED)
    t = b.op("Sub", "t1", rem) if timed else "t1"
    last = b.op("GreaterOrEqual", h, b.op("Mul", rem, b.const(1 - LAST_STEP_SLACK)))
    hs = b.op("Where", last, rem, h)
    stages = StageStack(b, y, hs, dim, layer)
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
        # the error weights carry sqrt(C) (see controller.growth), so squares is C * sum((err/scale)^2)
        err = stages.combine(tuple(w * np.sqrt(growth_c(tab.order, dim)) for w in tab.b_error), with_y=False)
        scale = b.op("Add", "atol", b.op("Mul", "rtol", b.op("Max", b.op("Abs", y), b.op("Abs", y1))))
        squares = b.op("ReduceSumSquare", b.op("Div", err, scale), b.const([1], I64), keepdims=1)
        ok = b.op("LessOrEqual", squares, b.const(dim * growth_c(tab.order, dim)))  # rms <= 1; NaN fails
        h_next = b.op("Mul", hs, growth(b, squares, ok, tab.order))
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
    inputs = [
        helper.make_tensor_value_info("iter", I64, []),
        helper.make_tensor_value_info("cond_in", BOOL, []),
    ]
    inputs += [helper.make_tensor_value_info(n, d, s) for n, d, s in CARRIED]
    outs = [helper.make_tensor_value_info(outputs[0], BOOL, [])]
    # zip stops at the carried state; the scanned flags that follow are declared below
    carried = zip(outputs[1:], CARRIED, strict=False)
    outs += [helper.make_tensor_value_info(o, d, s) for o, (_, d, s) in carried]
    outs += [helper.make_tensor_value_info(o, BOOL, ["B", 1]) for o in outputs[len(CARRIED) + 1 :]]
    return helper.make_graph(b.nodes, f"{tab.name}_step", inputs, outs)
