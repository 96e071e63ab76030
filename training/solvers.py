"""Solving a classifier's ODE with torchdiffeq, counting function evaluations (NFE).

The methods are the catalogue's (``models_store.methods``): training accepts exactly the ones the
service serves, so a model trained with a method can be served with it, and refuses the others
for the catalogue's reasons (``explicit_adams`` gives wrong answers in torchdiffeq 0.2.5;
``scipy_solver`` needs options no CLI flag can give and no step limit bounds it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from models_store import METHODS as CATALOGUE
from models_store import SERVED_METHODS, SolverDefaults

METHODS: tuple[str, ...] = SERVED_METHODS
"""The methods training accepts: the service's, by construction."""
ADAPTIVE_METHODS: tuple[str, ...] = tuple(m for m in METHODS if CATALOGUE[m].adaptive)
FIXED_GRID_METHODS: tuple[str, ...] = tuple(m for m in METHODS if not CATALOGUE[m].adaptive)
if TYPE_CHECKING:
    Method = str
else:  # built from the catalogue: pydantic validates it and the CLI lists it as --method's choices
    Method = Literal[SERVED_METHODS]


class CountingField(nn.Module):
    """Wraps f(t, z) and counts its calls: the NFE of whatever solve runs through it."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        dz: torch.Tensor = self.field(t, z)  # nn.Module calls are typed Any
        return dz


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
    return solve_at(field, z0, solver, times, adjoint)[-1]


def solve_at(
    field: nn.Module, z0: torch.Tensor, solver: SolverDefaults, times: torch.Tensor, adjoint: bool = False
) -> torch.Tensor:
    """z(t) at every ``times[i]`` (increasing, from z(``times[0]``) = ``z0``), shaped [T, B, D]."""
    method = CATALOGUE[solver.method]
    options = None if method.adaptive else {"step_size": solver.step_size}
    solve = odeint_adjoint if adjoint else odeint
    states: torch.Tensor = solve(  # torchdiffeq is untyped
        field, z0, times, method=method.torchdiffeq, rtol=solver.rtol, atol=solver.atol, options=options
    )
    return states
