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
# carried after CARRIED by the trajectory variant only (``dense=True``): which requested times each
# sample has filled in, and the states there
DENSE_CARRIED: list[tuple[str, int, Shape]] = [
    ("emitted", BOOL, ["B", "T"]),
    ("states", F64, ["B", "T", "D"]),
]


def step_body(
    tab: ButcherTableau,
    timed: bool,
    dim: int,
    layer: FirstLayer | None,
    opset: int,
    mixed_budgets: bool,
    dense: bool = False,
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
        stages.push(stages.evaluate(ti, tab.a[i - 1]))
    # An FSAL tableau's last stage input is the solution too; evaluating it fused (one Gemm from the
    # stack, as every stage) and the solution by its own MatMul costs the same two kernels as the
    # solution first and the field's first layer on it, so no branch for it.
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
    state = list(CARRIED)
    if dense:
        f_first = stages.ks[0]
        # the last stage (f(y1) for FSAL tableaus), as dense.interpolate takes Step.f_last
        dense_out = _emit(tab, b, stages, (rem, rem_new), hs, (y, y1, f_first, stages.ks[-1]), ok)
        outputs[len(CARRIED) + 1 : len(CARRIED) + 1] = dense_out
        state += DENSE_CARRIED
    inputs = [
        helper.make_tensor_value_info("iter", I64, []),
        helper.make_tensor_value_info("cond_in", BOOL, []),
    ]
    inputs += [helper.make_tensor_value_info(n, d, s) for n, d, s in state]
    outs = [helper.make_tensor_value_info(outputs[0], BOOL, [])]
    # zip stops at the carried state; the scanned flags that follow are declared below
    carried = zip(outputs[1:], state, strict=False)
    outs += [helper.make_tensor_value_info(o, d, s) for o, (_, d, s) in carried]
    outs += [helper.make_tensor_value_info(o, BOOL, ["B", 1]) for o in outputs[len(state) + 1 :]]
    return helper.make_graph(b.nodes, f"{tab.name}_step", inputs, outs)


def _emit(
    tab: ButcherTableau,
    b: GraphBuilder,
    stages: StageStack,
    rems: tuple[str, str],
    hs: str,
    ends: tuple[str, str, str, str],
    ok: str,
) -> list[str]:
    """integrate._emit in the graph: the new ``emitted`` [B, T] and ``states`` [B, T, D].

    A requested time tau not yet filled in and reached by a step that the sample accepted
    (tau <= t_new) gets dense.interpolate's value at x = clamp((tau - t) / h, 0, 1), or exactly
    y1 where tau == t_new; the same operations in the same order as there, on [B, T, D] with the
    step's [B, D] terms broadcast over T. Times are t1 - rem (the Loop carries the time left).
    """
    emitted, states = (name for name, _, _ in DENSE_CARRIED)
    rem, rem_new = rems
    y0, y1, k_first, k_last = ends
    t, t_new = b.op("Sub", "t1", rem), b.op("Sub", "t1", rem_new)  # [B, 1]
    due = b.op("And", b.op("And", ok, b.op("Not", emitted)), b.op("LessOrEqual", "times", t_new))  # [B, T]
    x_bt = b.op("Clip", b.op("Div", b.op("Sub", "times", t), hs), b.const(0.0), b.const(1.0))
    axis1, axis2 = b.const([1], I64), b.const([2], I64)
    x = b.op("Unsqueeze", x_bt, axis2)  # [B, T, 1]

    def wide(v: str) -> str:  # [B, D] -> [B, 1, D]
        return b.op("Unsqueeze", v, axis1)

    def mul(u: str, v: str) -> str:
        return b.op("Mul", u, v)

    def add(u: str, v: str) -> str:
        return b.op("Add", u, v)

    def sub(u: str, v: str) -> str:
        return b.op("Sub", u, v)

    def scaled(c: float, v: str) -> str:  # c * v, as torch's python-scalar products
        return mul(b.const(c), v)

    y0w, y1w = wide(y0), wide(y1)
    if not tab.adaptive:  # linear, as torchdiffeq does on fixed grids
        value = add(y0w, mul(x, wide(sub(y1, y0))))
    else:
        f0, f1 = mul(k_first, hs), mul(k_last, hs)
        if tab.b_mid is not None:  # quartic through y0, y(1/2), y1 with both end slopes
            ym = stages.combine(tab.b_mid)
            qa = add(sub(scaled(2.0, sub(f1, f0)), scaled(8.0, add(y1, y0))), scaled(16.0, ym))
            qb = sub(
                add(add(sub(scaled(5.0, f0), scaled(3.0, f1)), scaled(18.0, y0)), scaled(14.0, y1)),
                scaled(32.0, ym),
            )
            qc = add(sub(sub(sub(f1, scaled(4.0, f0)), scaled(11.0, y0)), scaled(5.0, y1)), scaled(16.0, ym))
            inner = add(wide(qc), mul(x, add(wide(qb), mul(x, wide(qa)))))
            value = add(y0w, mul(x, add(wide(f0), mul(x, inner))))
        else:  # cubic Hermite with both end slopes
            x2 = mul(x, x)
            x3 = mul(x2, x)
            w0 = add(sub(scaled(2.0, x3), scaled(3.0, x2)), b.const(1.0))
            w1 = add(sub(x3, scaled(2.0, x2)), x)
            w2 = add(scaled(-2.0, x3), scaled(3.0, x2))
            w3 = sub(x3, x2)
            value = add(add(add(mul(w0, y0w), mul(w1, wide(f0))), mul(w2, y1w)), mul(w3, wide(f1)))
    exact = b.op("Unsqueeze", b.op("Equal", "times", t_new), axis2)  # [B, T, 1]
    value = b.op("Where", exact, y1w, value)
    states_new = b.op("Where", b.op("Unsqueeze", due, axis2), value, states)
    return [b.op("Or", emitted, due), states_new]
