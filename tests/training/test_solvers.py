from __future__ import annotations

import math
from typing import get_args

import pytest
import torch
from pydantic import ValidationError
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.solvers import FixedGridODESolver

from models_store import REFUSED_METHODS, SERVED_METHODS, SolverDefaults
from training import METHODS, CountingField, KineticField, TrainConfig, integrate
from training.solvers import FIXED_GRID_METHODS, Method


class Decay(torch.nn.Module):
    """dz/dt = -z: z(t) = z0 exp(-t), and the integral of ||f||^2 is ||z0||^2 (1 - exp(-2)) / 2."""

    def forward(self, t, z):
        return -z


class _Autonomous(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, t, z):
        return self.module(z)


def test_methods_are_the_catalogues_served_ones():
    assert METHODS == SERVED_METHODS and set(METHODS) <= set(SOLVERS)
    assert set(FIXED_GRID_METHODS) == {m for m in METHODS if issubclass(SOLVERS[m], FixedGridODESolver)}
    assert get_args(Method) == SERVED_METHODS  # what TrainConfig validates and --method lists


@pytest.mark.parametrize("method", REFUSED_METHODS)
def test_refused_methods_cannot_be_trained_or_served_by_default(method):
    for option in ("method", "serve_method"):
        with pytest.raises(ValidationError):
            TrainConfig(**{option: method})


@pytest.mark.parametrize("method", METHODS)
def test_every_method_solves_decay(method):
    z0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    z1 = integrate(Decay(), z0, SolverDefaults(method=method, rtol=1e-6, atol=1e-6, step_size=1e-3))
    assert torch.allclose(z1, z0 * math.exp(-1), atol=1e-3)


def test_a_fixed_grid_solve_uses_the_step_size():
    counter = CountingField(Decay())
    integrate(counter, torch.ones(1, 2), SolverDefaults(method="rk4", step_size=0.25))
    assert counter.calls == 4 * 4


def test_kinetic_field_integrates_the_squared_speed():
    z0 = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    state = integrate(
        KineticField(Decay()),
        torch.cat([z0, torch.zeros(1, 1, dtype=torch.float64)], 1),
        SolverDefaults(rtol=1e-9, atol=1e-9),
    )
    assert state[0, -1].item() == pytest.approx(5.0 * (1 - math.exp(-2)) / 2, rel=1e-6)
    assert torch.allclose(state[:, :-1], z0 * math.exp(-1))


@pytest.mark.parametrize("adjoint", [False, True])
def test_gradients_flow_with_and_without_adjoint(adjoint):
    linear = torch.nn.Linear(2, 2)
    field = CountingField(_Autonomous(linear))
    loss = integrate(field, torch.ones(3, 2), SolverDefaults(), adjoint=adjoint).sum()
    forward_calls = field.calls
    loss.backward()
    assert linear.weight.grad is not None and linear.weight.grad.abs().sum() > 0
    assert (field.calls > forward_calls) == adjoint  # the adjoint solves backwards through f again
