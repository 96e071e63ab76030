"""Tableaus are checked on construction and deliver their advertised order of accuracy."""

import math

import numpy as np
import pytest
import torch

from service.engine.integrate import integrate
from service.engine.tableaus import ADAPTIVE_TABLEAUS, FIXED_TABLEAUS, ButcherTableau

ALL = {**ADAPTIVE_TABLEAUS, **FIXED_TABLEAUS}


def _field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """dz/dt = cos(t) z, exact solution z(t) = z(0) exp(sin t): exercises the nodes c."""
    return torch.cos(t).unsqueeze(1) * z


def _fixed_error(tab: ButcherTableau, h: float) -> float:
    fixed = ButcherTableau(name=tab.name, order=tab.order, c=tab.c, a=tab.a, b=tab.b)
    y0 = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    one = lambda v, dt=torch.float64: torch.full((1,), v, dtype=dt)  # noqa: E731
    sol = integrate(_field, fixed, y0, 0.0, 2.0, rtol=one(1.0), atol=one(1.0), step_size=one(h),
                    max_steps=one(10_000, torch.long))
    return float(np.abs(sol.final - y0.numpy() * math.exp(math.sin(2.0))).max())


@pytest.mark.parametrize("name", sorted(ALL))
def test_empirical_order_matches_tableau(name: str) -> None:
    tab = ALL[name]
    steps = [0.2, 0.1, 0.05] if tab.order >= 4 else [0.05, 0.025, 0.0125]
    errors = [_fixed_error(tab, h) for h in steps]
    slopes = [math.log(errors[i] / errors[i + 1], 2) for i in range(len(errors) - 1)]
    assert slopes[-1] == pytest.approx(tab.order, abs=0.35), (errors, slopes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"a": ((0.4,),)}, "row 1"),
        ({"b": (0.6, 0.6)}, "sum to 1"),
        ({"b_error": (0.5, 0.4)}, "sum to 0"),
        ({"b_mid": (0.5,)}, "one weight per stage"),
    ],
)
def test_inconsistent_tableau_is_refused(change: dict, message: str) -> None:
    spec = {"name": "bad", "order": 2, "c": (0.0, 0.5), "a": ((0.5,),), "b": (0.0, 1.0), **change}
    with pytest.raises(ValueError, match=message):
        ButcherTableau(**spec)
