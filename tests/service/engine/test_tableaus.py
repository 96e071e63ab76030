"""Tableaus are checked on construction and deliver their advertised order of accuracy."""

import math

import numpy as np
import pytest

from models_store import METHODS
from service.engine.integrate import integrate
from service.engine.tableaus import (
    ADAPTIVE_TABLEAUS,
    EULER,
    FIXED_TABLEAUS,
    RK4,
    TABLEAUS,
    ButcherTableau,
    check_against_catalogue,
)

ALL = {**ADAPTIVE_TABLEAUS, **FIXED_TABLEAUS}


def _field(t: np.ndarray, z: np.ndarray) -> np.ndarray:
    """dz/dt = cos(t) z, exact solution z(t) = z(0) exp(sin t): exercises the nodes c."""
    return np.cos(t)[:, None] * z


def _fixed_error(tab: ButcherTableau, h: float) -> float:
    fixed = ButcherTableau(name=tab.name, order=tab.order, c=tab.c, a=tab.a, b=tab.b)
    y0 = np.array([[1.0, -0.5]])
    one = np.ones(1)
    sol = integrate(
        _field,
        fixed,
        y0,
        0.0,
        2.0,
        rtol=one,
        atol=one,
        step_size=one * h,
        max_steps=np.full(1, 10_000),
    )
    return float(np.abs(sol.final - y0 * math.exp(math.sin(2.0))).max())


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


def test_the_native_registry_is_the_adaptive_and_fixed_tableaus() -> None:
    assert TABLEAUS == ALL and not set(ADAPTIVE_TABLEAUS) & set(FIXED_TABLEAUS)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_tableau_is_a_served_catalogue_method_of_its_grid_and_order(name: str) -> None:
    tab, method = ALL[name], METHODS[name]
    assert method.served and tab.adaptive == method.adaptive and tab.order == method.order


@pytest.mark.parametrize(
    ("tableau", "message"),
    [
        (ButcherTableau(name="rk45", order=1, c=EULER.c, a=EULER.a, b=EULER.b), "no such method"),
        (ButcherTableau(name="explicit_adams", order=1, c=EULER.c, a=EULER.a, b=EULER.b), "refuses"),
        (
            ButcherTableau(name="dopri5", order=4, c=RK4.c, a=RK4.a, b=RK4.b),
            "fixed grid, the catalogue says adaptive",
        ),
        (ButcherTableau(name="heun3", order=4, c=RK4.c, a=RK4.a, b=RK4.b), "order 4, the catalogue says 3"),
    ],
)
def test_a_tableau_the_catalogue_does_not_back_fails_loudly(tableau: ButcherTableau, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_against_catalogue((tableau,))


def test_a_tableau_listed_twice_fails() -> None:
    with pytest.raises(ValueError, match="twice"):
        check_against_catalogue((RK4, RK4))
