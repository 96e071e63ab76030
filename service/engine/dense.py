"""Dense output: the state between two accepted steps, from what the step already computed.

Trajectories reuse the exact stepping of a plain solve and interpolate inside steps, so the
state at the end of the interval is bit-for-bit the one ``predict`` returns.
"""

from __future__ import annotations

import numpy as np

from .rk import Step, weighted_sum
from .tableaus import ButcherTableau


def interpolate(tab: ButcherTableau, y0: np.ndarray, step: Step, h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """State at fraction ``x`` in [0, 1] of each sample's step ``h`` (both [n]; states [D, n])."""
    y1 = step.y1
    value: np.ndarray
    if not tab.adaptive:  # fixed grids interpolate linearly, as torchdiffeq does
        value = y0 + x * (y1 - y0)
        return value
    f0, f1 = step.stages[0] * h, step.f_last * h
    if tab.b_mid is not None:  # quartic through y0, y(1/2), y1 with both end slopes
        ym = weighted_sum(y0, h, step.stages, tab.b_mid)
        a = 2 * (f1 - f0) - 8 * (y1 + y0) + 16 * ym
        b = 5 * f0 - 3 * f1 + 18 * y0 + 14 * y1 - 32 * ym
        c = f1 - 4 * f0 - 11 * y0 - 5 * y1 + 16 * ym
        value = y0 + x * (f0 + x * (c + x * (b + x * a)))
        return value
    # cubic Hermite with both end slopes
    x2, x3 = x * x, x * x * x
    value = (2 * x3 - 3 * x2 + 1) * y0 + (x3 - 2 * x2 + x) * f0 + (-2 * x3 + 3 * x2) * y1 + (x3 - x2) * f1
    return value
