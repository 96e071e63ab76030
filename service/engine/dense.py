"""Dense output: the state between two accepted steps, from what the step already computed.

Trajectories reuse the exact stepping of a plain solve and interpolate inside steps, so the
state at the end of the interval is bit-for-bit the one ``predict`` returns.
"""

from __future__ import annotations

import torch

from .rk import Step, weighted_sum
from .tableaus import ButcherTableau


def interpolate(
    tab: ButcherTableau, y0: torch.Tensor, step: Step, h: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """State at fraction ``x`` in [0, 1] of each row's step ``h`` (all per row)."""
    y1 = step.y1
    xx = x.unsqueeze(1)
    if not tab.adaptive:  # fixed grids interpolate linearly, as torchdiffeq does
        return y0 + xx * (y1 - y0)
    hh = h.unsqueeze(1)
    f0, f1 = step.stages[0] * hh, step.f_last * hh
    if tab.b_mid is not None:  # quartic through y0, y(1/2), y1 with both end slopes
        ym = weighted_sum(y0, hh, step.stages, tab.b_mid)
        a = 2 * (f1 - f0) - 8 * (y1 + y0) + 16 * ym
        b = 5 * f0 - 3 * f1 + 18 * y0 + 14 * y1 - 32 * ym
        c = f1 - 4 * f0 - 11 * y0 - 5 * y1 + 16 * ym
        return y0 + xx * (f0 + xx * (c + xx * (b + xx * a)))
    # cubic Hermite with both end slopes
    x2, x3 = xx * xx, xx * xx * xx
    return (2 * x3 - 3 * x2 + 1) * y0 + (x3 - 2 * x2 + xx) * f0 + (-2 * x3 + 3 * x2) * y1 + (x3 - x2) * f1
