"""The step-size controller as graph arithmetic: Hairer's starting step and the accept/grow rule
of the torch solver (``integrate.initial_step`` and ``integrate.next_step_size``), rewritten with
the constants folded in so that each costs few kernels. The ONNX solve is only trusted because it
takes exactly the torch solver's steps (the backend checks NFE parity before serving with it), so
these formulas must change in step with ``integrate.py``; keeping them together, apart from the
stage arithmetic, makes that pairing the whole content of one module.
"""

from __future__ import annotations

import numpy as np

from ..integrate import DFACTOR, IFACTOR, SAFETY
from ..tableaus import ButcherTableau
from .builder import I64, GraphBuilder


def growth_c(order: int, dim: int) -> float:
    """C with SAFETY * rms^(-1/order) = (C * sum of squares)^(-1/(2 order))."""
    return float(SAFETY ** (-2.0 * order)) / dim


def growth(b: GraphBuilder, squares: str, ok: str, order: int) -> str:
    """The torch solver's controller (integrate.next_step_size) on C * the sum of squares.

    SAFETY * rms^(-1/order) is one Pow (sqrt(C) is folded into the error weights); after an
    accepted step the factor is at least 1, after a rejected one at least DFACTOR (a NaN error
    compares false, so it gets DFACTOR, as nan -> inf does in torch), and never above IFACTOR (a
    zero error gives inf).
    """
    factor = b.op("Pow", squares, b.const(-0.5 / order))
    floor = b.op("Where", ok, b.const(1.0), b.const(DFACTOR))
    return b.op("Min", b.op("Where", b.op("Greater", factor, floor), factor, floor), b.const(IFACTOR))


def initial_h(b: GraphBuilder, tab: ButcherTableau, t: str, y0: str, f0: str, dim: int, timed: bool) -> str:
    """Hairer's starting step per sample, as integrate.initial_step does (one evaluation).

    The RMS norms there are L2 norms / sqrt(D) here, with sqrt(D) folded into the constants.
    """
    root_d = float(np.sqrt(dim))

    def l2(x: str) -> str:
        return b.op("ReduceL2", x, b.const([1], I64), keepdims=1)

    scale = b.op("Add", "atol", b.op("Mul", b.op("Abs", y0), "rtol"))
    d0, d1 = l2(b.op("Div", y0, scale)), l2(b.op("Div", f0, scale))
    tiny = b.op("Less", b.op("Min", d0, d1), b.const(1e-5 * root_d))
    h0 = b.op("Where", tiny, b.const(1e-6), b.op("Mul", b.const(0.01), b.op("Div", d0, d1)))
    f1 = b.field(b.op("Add", t, h0) if timed else t, b.op("Add", y0, b.op("Mul", h0, f0)))
    d2 = b.op("Div", l2(b.op("Div", b.op("Sub", f1, f0), scale)), h0)
    dmax = b.op("Max", d1, d2)
    small = b.op("Max", b.op("Mul", h0, b.const(1e-3)), b.const(1e-6))
    h1 = b.op(
        "Where",
        b.op("LessOrEqual", dmax, b.const(1e-15 * root_d)),
        small,
        b.op("Pow", b.op("Div", b.const(0.01 * root_d), dmax), b.const(1.0 / (tab.order + 1))),
    )
    return b.op("Min", b.op("Mul", h0, b.const(100.0)), h1)
