"""The per-sample solver: batch invariance, per-sample tolerances, dense output, limits, parity."""

import numpy as np
import pytest
import torch
import torchdiffeq

from models_store import METHODS, SERVED_METHODS
from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED, SolverConfig, StepLimitExceeded, check_budget, solve
from service.engine.config import SampleSettings
from service.engine.solve import solve_samples
from service.engine.tableaus import ADAPTIVE_TABLEAUS, FIXED_TABLEAUS

TABLEAUS = {**ADAPTIVE_TABLEAUS, **FIXED_TABLEAUS}

NATIVE = (*NATIVE_ADAPTIVE, *NATIVE_FIXED)
FIXED_GRID = tuple(m for m in SERVED_METHODS if not METHODS[m].adaptive)


@pytest.fixture(scope="module")
def field() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)).double()
    return net.requires_grad_(False)


def _f(net: torch.nn.Module):
    return lambda t, z: net(z) * (1 + 0.5 * torch.sin(3 * t)).unsqueeze(1)


def _config(method: str, tol: float = 1e-5, max_steps: int = 10_000) -> SolverConfig:
    return SolverConfig(method=method, rtol=tol, atol=tol, step_size=0.02, max_steps=max_steps)


@pytest.mark.parametrize("method", NATIVE)
def test_sample_answer_independent_of_batchmates(field: torch.nn.Module, method: str) -> None:
    gen = torch.Generator().manual_seed(1)
    crowd = torch.randn(257, 3, generator=gen, dtype=torch.float64) * 3
    alone = solve(_f(field), crowd[:1], (0.0, 1.0), _config(method))
    together = solve(_f(field), crowd, (0.0, 1.0), _config(method))
    assert together.nfe[0] == alone.nfe[0]
    assert together.accepted[0] == alone.accepted[0] and together.rejected[0] == alone.rejected[0]
    np.testing.assert_allclose(together.final[:1], alone.final, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
def test_each_sample_uses_its_own_tolerance(field: torch.nn.Module, method: str) -> None:
    y0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    tols = np.array([1e-3, 1e-5, 1e-7, 1e-4])
    settings = SampleSettings(tols, tols, np.full(4, 0.02), np.full(4, 100_000))
    mixed = solve_samples(_f(field), y0, (0.0, 1.0), method, settings)
    for i, tol in enumerate(tols.tolist()):
        single = solve(_f(field), y0[i : i + 1], (0.0, 1.0), _config(method, tol, 100_000))
        assert mixed.nfe[i] == single.nfe[0]
        np.testing.assert_allclose(mixed.final[i : i + 1], single.final, rtol=0, atol=1e-12)
    assert mixed.nfe[2] > mixed.nfe[0]


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
@pytest.mark.parametrize("tol", [1e-4, 1e-6])
def test_agrees_with_torchdiffeq_within_tolerance(field: torch.nn.Module, method: str, tol: float) -> None:
    y0 = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grid = torch.tensor([0.0, 1.0], dtype=torch.float64)
    run = lambda tol, m="dopri5": torchdiffeq.odeint(  # noqa: E731
        lambda t, z: _f(field)(t.expand(z.shape[0]), z), y0, grid, rtol=tol, atol=tol, method=m
    )[-1]
    ref = run(1e-10)
    scaled = lambda y: float(((y - ref).abs() / (tol * (1 + ref.abs()))).max())  # noqa: E731
    ours, theirs = (
        torch.from_numpy(solve(_f(field), y0, (0.0, 1.0), _config(method, tol)).final),
        run(tol, method),
    )
    # no worse than torchdiffeq itself at the same requested tolerance (or 10x the tolerance)
    assert scaled(ours) <= max(10.0, 2 * scaled(theirs))


@pytest.mark.parametrize("method", NATIVE)
def test_dense_output_matches_reference_and_ends_on_final_state(field: torch.nn.Module, method: str) -> None:
    y0 = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    times = torch.linspace(0.0, 1.0, 9, dtype=torch.float64)
    sol = solve(_f(field), y0, (0.0, 1.0), _config(method, 1e-7), times)
    plain = solve(_f(field), y0, (0.0, 1.0), _config(method, 1e-7))
    ref = torchdiffeq.odeint(
        lambda t, z: _f(field)(t.expand(z.shape[0]), z), y0, times, rtol=1e-10, atol=1e-10
    )
    assert np.array_equal(sol.outputs[0], y0.numpy())
    assert np.array_equal(sol.outputs[-1], sol.final) and np.array_equal(sol.final, plain.final)
    assert np.array_equal(sol.nfe, plain.nfe)
    tolerance = {1: 2e-2, 2: 1e-3}.get(TABLEAUS[method].order, 1e-4)  # fixed steps of 0.02
    assert float(np.abs(sol.outputs - ref.numpy()).max()) < tolerance


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
def test_step_limit_names_the_samples(field: torch.nn.Module, method: str) -> None:
    y0 = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with pytest.raises(StepLimitExceeded, match="max_steps=3") as info:
        solve(_f(field), y0, (0.0, 1.0), _config(method, 1e-10, max_steps=3))
    assert info.value.samples == [0, 1, 2]


@pytest.mark.parametrize("method", FIXED_GRID)
def test_fixed_step_limit_checked_before_work(field: torch.nn.Module, method: str) -> None:
    calls = []
    counting = lambda t, z: calls.append(1) or _f(field)(t, z)  # noqa: E731
    with pytest.raises(StepLimitExceeded, match="raise step_size"):
        solve(counting, torch.zeros(2, 3, dtype=torch.float64), (0.0, 1.0), _config(method, max_steps=10))
    assert calls == []


@pytest.mark.parametrize("method", NATIVE_FIXED)
def test_check_budget_applies_to_native_fixed_methods(method: str) -> None:
    """Fixed grid is the catalogue's word, so a native fixed tableau is checked like torchdiffeq's."""
    check_budget(_config(method, max_steps=50), (0.0, 1.0), 2)  # 0.02 steps: exactly 50
    with pytest.raises(StepLimitExceeded, match="max_steps=49.*raise step_size"):
        check_budget(_config(method, max_steps=49), (0.0, 1.0), 2)


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
def test_check_budget_leaves_adaptive_methods_to_the_solve(method: str) -> None:
    check_budget(_config(method, max_steps=1), (0.0, 1.0), 2)


def test_diverging_field_fails_with_step_limit_not_hang() -> None:
    blowup = lambda t, z: z * z * 1e6  # noqa: E731
    with pytest.raises(StepLimitExceeded):
        solve(blowup, torch.ones(1, 2, dtype=torch.float64), (0.0, 1.0), _config("dopri5", 1e-6, 200))


def test_times_outside_interval_rejected(field: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="inside"):
        solve(
            _f(field),
            torch.zeros(1, 3, dtype=torch.float64),
            (0.0, 1.0),
            _config("dopri5"),
            torch.tensor([0.5, 1.5], dtype=torch.float64),
        )
