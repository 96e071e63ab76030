"""The engine's single entry point: pick the native per-sample solver or the reference one."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .cancel import CancelToken, checked
from .config import SampleSettings, SolverConfig
from .exceptions import StepLimitExceeded
from .integrate import Solution, integrate
from .reference import TorchField, solve_reference
from .rk import Field
from .tableaus import TABLEAUS, ButcherTableau


def fixed_steps_needed(config: SolverConfig, t0: float, t1: float) -> int:
    """Steps a fixed-grid method takes over the interval (checked before any work is done)."""
    return max(1, math.ceil((t1 - t0) / config.step_size * (1 - 1e-10)))


def check_budget(config: SolverConfig, interval: tuple[float, float], batch: int) -> None:
    """Refuse a fixed-grid request whose grid alone exceeds ``max_steps``, before any work.

    Fixed grid is the catalogue's word, native or not: a native fixed-step tableau would otherwise
    take ``max_steps`` steps and fail, after the work, what this refuses before it.
    """
    if config.fixed_grid and fixed_steps_needed(config, *interval) > config.max_steps:
        raise StepLimitExceeded(range(batch), config.max_steps, fixed_grid=True)


def check_times(times: np.ndarray, interval: tuple[float, float]) -> None:
    """Dense output is asked inside the interval only (the API checks it first, with its message)."""
    if bool((times < interval[0]).any()) or bool((times > interval[1]).any()):
        raise ValueError("times must lie inside the integration interval")


def solve_samples(
    field: TorchField,
    y0: torch.Tensor,
    interval: tuple[float, float],
    method: str,
    settings: SampleSettings,
    times: torch.Tensor | None = None,
    cancel: CancelToken | None = None,
) -> Solution:
    """Solve every row with its own settings; samples over budget come back ``failed``.

    Methods without a tableau go to torchdiffeq, which needs one setting for the whole batch
    (the first row's) and raises StepLimitExceeded itself. A cancelled ``cancel`` stops the solve
    at its next field evaluation (Cancelled).
    """
    t0, t1 = interval
    field = checked(field, cancel)
    if times is not None:
        check_times(times.numpy(), interval)
    tableau = TABLEAUS.get(method)
    if tableau is None:
        first: Callable[[np.ndarray], float] = lambda v: v[0].item()  # noqa: E731
        return solve_reference(
            field,
            method,
            y0,
            t0,
            t1,
            rtol=first(settings.rtol),
            atol=first(settings.atol),
            step_size=first(settings.step_size),
            max_steps=int(first(settings.max_steps)),
            times=times,
        )
    with torch.inference_mode():
        grid = None if times is None else times.detach().numpy()
        return integrate_samples(numpy_field(field), tableau, y0.detach().numpy(), interval, settings, grid)


def integrate_samples(
    field: Field,
    tableau: ButcherTableau,
    y0: np.ndarray,
    interval: tuple[float, float],
    settings: SampleSettings,
    times: np.ndarray | None = None,
) -> Solution:
    """The one solver loop (:func:`.integrate.integrate`) with each sample's own settings."""
    return integrate(
        field,
        tableau,
        y0,
        *interval,
        rtol=settings.rtol,
        atol=settings.atol,
        step_size=settings.step_size,
        max_steps=settings.max_steps,
        times=times,
    )


def numpy_field(field: TorchField) -> Field:
    """A torch field (rows are samples) as the solver loop calls it (columns are samples); the
    tensors share the arrays, transposed views, no copies."""

    def evaluate(t: np.ndarray, z: np.ndarray) -> np.ndarray:
        dz: np.ndarray = field(torch.from_numpy(t), torch.from_numpy(z.T)).detach().numpy()
        return dz.T

    return evaluate


def raise_failures(sol: Solution, max_steps: int) -> Solution:
    """Turn per-sample failures into the error the caller sees."""
    if sol.failed.any():
        raise StepLimitExceeded(np.flatnonzero(sol.failed).tolist(), max_steps)
    return sol


def solve(
    field: TorchField,
    y0: torch.Tensor,
    interval: tuple[float, float],
    config: SolverConfig,
    times: torch.Tensor | None = None,
    cancel: CancelToken | None = None,
) -> Solution:
    """Solve every row of ``y0`` over ``interval`` with one config; ``times`` adds dense states.

    Raises StepLimitExceeded naming the samples that needed more than ``max_steps`` steps.
    """
    check_budget(config, interval, y0.shape[0])
    settings = SampleSettings.uniform(config, y0.shape[0])
    sol = solve_samples(field, y0, interval, config.method, settings, times, cancel)
    return raise_failures(sol, config.max_steps)
