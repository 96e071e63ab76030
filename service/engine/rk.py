"""One generic explicit Runge-Kutta step, per sample, for any Butcher tableau.

Every sample has its own time and step size. Stage sums are written as element-wise
multiply-adds instead of a matmul so that a row's result never depends on how many rows
share the batch (BLAS kernels pick different reduction orders for different shapes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .tableaus import ButcherTableau

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""f(t, z): t has one time per sample [n], z is [n, D]; returns dz/dt [n, D]."""


def weighted_sum(
    y: torch.Tensor, h: torch.Tensor, stages: list[torch.Tensor], weights: tuple[float, ...]
) -> torch.Tensor:
    """y + h * sum_j w_j k_j, skipping zero weights; h is [n, 1]."""
    acc: torch.Tensor | None = None
    for w, k in zip(weights, stages, strict=True):
        if w != 0.0:
            acc = k * w if acc is None else acc + k * w
    return y if acc is None else y + h * acc


@dataclass
class Step:
    """The outcome of one step for every active sample."""

    y1: torch.Tensor
    stages: list[torch.Tensor]

    @property
    def f_last(self) -> torch.Tensor:
        return self.stages[-1]


def rk_step(
    field: Field, tab: ButcherTableau, t: torch.Tensor, y: torch.Tensor, h: torch.Tensor, k1: torch.Tensor
) -> Step:
    """Advance each row of ``y`` from ``t`` by ``h`` (both [n]); ``k1`` = f(t, y) is given."""
    hh = h.unsqueeze(1)
    stages = [k1]
    for i in range(1, tab.stages):
        yi = weighted_sum(y, hh, stages, tab.a[i - 1])
        stages.append(field(t + tab.c[i] * h, yi))
    return Step(weighted_sum(y, hh, stages, tab.b), stages)


def error_ratio(
    tab: ButcherTableau, step: Step, y0: torch.Tensor, h: torch.Tensor, rtol: torch.Tensor, atol: torch.Tensor
) -> torch.Tensor:
    """Per-sample RMS of the local error over its own tolerance (accept when <= 1; NaN rejects)."""
    assert tab.b_error is not None
    err = weighted_sum(torch.zeros_like(y0), h.unsqueeze(1), step.stages, tab.b_error)
    scale = atol.unsqueeze(1) + rtol.unsqueeze(1) * torch.maximum(y0.abs(), step.y1.abs())
    return (err / scale).square().mean(dim=1).sqrt()
