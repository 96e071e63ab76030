"""Methods outside our tableaus run through torchdiffeq and say they are not batch-invariant."""

import numpy as np
import pytest
import torch
import torchdiffeq

from models_store import METHODS, REFUSED_METHODS, SERVED_METHODS, SolverDefaults
from service.engine import (
    ALL_METHODS,
    NATIVE_ADAPTIVE,
    NATIVE_FIXED,
    RefusedMethod,
    SolverConfig,
    StepLimitExceeded,
    UnknownMethod,
    solve,
)

FALLBACK = [m for m in ALL_METHODS if m not in (*NATIVE_ADAPTIVE, *NATIVE_FIXED)]


def _field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return -z + torch.sin(t).unsqueeze(1)


@pytest.mark.parametrize("method", FALLBACK)
def test_fallback_methods_solve_and_report_batch_nfe(method: str) -> None:
    y0 = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    times = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    cfg = SolverConfig(method=method, rtol=1e-6, atol=1e-6, step_size=0.01, max_steps=10_000)
    sol = solve(_field, y0, (0.0, 1.0), cfg, times)
    assert not cfg.native
    assert sol.nfe[0] == sol.nfe[1] > 0
    assert sol.accepted is None and sol.rejected is None  # unknown: torchdiffeq does not report them
    # a faithful pass-through: the same numbers torchdiffeq gives for the same settings
    options = {"step_size": 0.01} if not METHODS[method].adaptive else {}
    if method == "dopri8":
        options = {"max_num_steps": 10_000}
    direct = torchdiffeq.odeint(
        lambda s, z: _field(s.expand(z.shape[0]), z),
        y0,
        times,
        rtol=1e-6,
        atol=1e-6,
        method=method,
        options=options,
    )
    np.testing.assert_allclose(sol.outputs, direct.numpy(), rtol=0, atol=1e-12)
    assert np.array_equal(sol.outputs[-1], sol.final)


def test_fallback_adaptive_step_limit() -> None:
    cfg = SolverConfig(method="dopri8", rtol=1e-12, atol=1e-12, step_size=0.1, max_steps=2)
    with pytest.raises(StepLimitExceeded):
        solve(_field, torch.ones(2, 2, dtype=torch.float64), (0.0, 1.0), cfg)


def test_resolve_applies_only_given_overrides() -> None:
    cfg = SolverConfig.resolve(SolverDefaults(method="dopri5", rtol=1e-4), {"rtol": 1e-6, "atol": None})
    assert (cfg.method, cfg.rtol, cfg.atol) == ("dopri5", 1e-6, 1e-4)
    assert cfg.native and cfg.adaptive


def test_unknown_method_lists_known_ones() -> None:
    with pytest.raises(UnknownMethod, match="dopri5"):
        SolverConfig.resolve(SolverDefaults(), {"method": "rk45"})


def test_the_served_methods_are_the_catalogues() -> None:
    assert set(ALL_METHODS) == set(SERVED_METHODS)
    assert ALL_METHODS[: len(NATIVE_ADAPTIVE) + len(NATIVE_FIXED)] == (*NATIVE_ADAPTIVE, *NATIVE_FIXED)


@pytest.mark.parametrize("method", REFUSED_METHODS)
def test_a_refused_method_says_why_and_what_instead(method: str) -> None:
    with pytest.raises(RefusedMethod, match=f"{method!r} is not served") as info:
        SolverConfig.resolve(SolverDefaults(), {"method": method})
    assert info.value.reason == METHODS[method].refused and info.value.instead == METHODS[method].instead
    assert not isinstance(info.value, UnknownMethod)
