"""Solving a classifier's ODE with torchdiffeq, counting function evaluations (NFE).

The method names are data: torchdiffeq's adaptive and fixed-grid solvers, listed once here (a
test checks the lists against torchdiffeq's own registry). Left out: ``scipy_solver``, which
needs a nested options dict no one-line CLI option could describe, and ``explicit_adams``,
which in torchdiffeq 0.2.5 returns wrong answers for some step sizes (dz/dt = -z with step
0.01 ends at exp(-0.31) instead of exp(-1)).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from models_store import SolverDefaults

AdaptiveMethod = Literal["dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun"]
FixedGridMethod = Literal["euler", "midpoint", "heun2", "heun3", "rk4", "implicit_adams", "fixed_adams"]
Method = Literal[AdaptiveMethod, FixedGridMethod]
ADAPTIVE_METHODS: tuple[str, ...] = get_args(AdaptiveMethod)
FIXED_GRID_METHODS: tuple[str, ...] = get_args(FixedGridMethod)
METHODS: tuple[str, ...] = ADAPTIVE_METHODS + FIXED_GRID_METHODS


class CountingField(nn.Module):
    """Wraps f(t, z) and counts its calls: the NFE of whatever solve runs through it."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, z)


class KineticField(nn.Module):
    """f plus a last state column integrating ||f||^2 (the kinetic energy of Finlay et al. 2020).

    Carrying the integral in the state lets the same adaptive solve that moves z also measure
    how far it moved, so the penalty costs no extra function evaluations.
    """

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        dz = self.field(t, state[:, :-1])
        return torch.cat([dz, dz.pow(2).sum(dim=1, keepdim=True)], dim=1)


def integrate(
    field: nn.Module,
    z0: torch.Tensor,
    solver: SolverDefaults,
    interval: tuple[float, float] = (0.0, 1.0),
    adjoint: bool = False,
) -> torch.Tensor:
    """z(T) from z(0) = ``z0``; the adjoint method trades compute for O(1) memory in backward."""
    times = torch.tensor(interval, dtype=z0.dtype, device=z0.device)
    options = {"step_size": solver.step_size} if solver.method in FIXED_GRID_METHODS else None
    solve = odeint_adjoint if adjoint else odeint
    states = solve(
        field, z0, times, method=solver.method, rtol=solver.rtol, atol=solver.atol, options=options
    )
    return states[-1]
