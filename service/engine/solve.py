"""The engine's single entry point: pick the native per-sample solver or the reference one."""

from __future__ import annotations

import math

import torch

from .config import SolverConfig
from .errors import StepLimitExceeded
from .integrate import Solution, integrate
from .reference import FIXED_GRID, solve_reference
from .rk import Field
from .tableaus import ADAPTIVE_TABLEAUS, FIXED_TABLEAUS


def fixed_steps_needed(config: SolverConfig, t0: float, t1: float) -> int:
    """Steps a fixed-grid method takes over the interval (checked before any work is done)."""
    return max(1, math.ceil((t1 - t0) / config.step_size * (1 - 1e-10)))


def solve(field: Field, y0: torch.Tensor, interval: tuple[float, float], config: SolverConfig,
          times: torch.Tensor | None = None) -> Solution:
    """Solve every row of ``y0`` over ``interval``; ``times`` (sorted, inside) adds dense states.

    Raises StepLimitExceeded naming the samples that needed more than ``max_steps`` steps.
    """
    t0, t1 = interval
    if times is not None and (bool((times < t0).any()) or bool((times > t1).any())):
        raise ValueError("times must lie inside the integration interval")
    batch = y0.shape[0]
    if config.method in FIXED_GRID and fixed_steps_needed(config, t0, t1) > config.max_steps:
        raise StepLimitExceeded(range(batch), config.max_steps)
    tableau = ADAPTIVE_TABLEAUS.get(config.method) or FIXED_TABLEAUS.get(config.method)
    if tableau is None:
        return solve_reference(field, config.method, y0, t0, t1, rtol=config.rtol, atol=config.atol,
                               step_size=config.step_size, max_steps=config.max_steps, times=times)
    full = lambda v, dtype=y0.dtype: torch.full((batch,), v, dtype=dtype)  # noqa: E731
    sol = integrate(field, tableau, y0, t0, t1, rtol=full(config.rtol), atol=full(config.atol),
                    step_size=full(config.step_size), max_steps=full(config.max_steps, torch.long), times=times)
    if bool(sol.failed.any()):
        raise StepLimitExceeded(sol.failed.nonzero().squeeze(1).tolist(), config.max_steps)
    return sol
