"""Butcher tableaus: every explicit Runge-Kutta method we run natively is a table, not code.

One generic step (``rk.py``) runs any of them. Each tableau is checked on construction
(row sums equal the nodes, weights sum to one, error weights sum to zero), so a typo in a
coefficient fails at import instead of giving quietly wrong answers.

Coefficients follow the same conventions as torchdiffeq (our training solver and reference):
the embedded error estimates and dense-output midpoints are the ones it uses, so NFE figures
are comparable between the two.

Which methods exist, and whether they are served, is the method catalogue's
(``models_store.methods``); which of them we run natively is this module's: a method is native
when it has a tableau here. Adding one is one entry in :data:`TABLEAUS`, checked at import
against the catalogue (a served method of that name, the same grid and order), so a tableau for
an unknown or refused method, or one that disagrees with what training runs, fails loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction as F

from models_store import METHODS, SolverMethod

_TOL = 1e-12


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit RK method: nodes ``c``, matrix ``a`` (lower rows), weights ``b``.

    ``b_error`` (adaptive methods only) are the weights of the error estimate (b - b_hat).
    ``b_mid`` (optional) gives y(t + h/2) for 4th-order dense output; without it a cubic
    Hermite interpolant is used between accepted steps.
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_error: tuple[float, ...] | None = None
    b_mid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        stages = len(self.c)
        if len(self.a) != stages - 1 or len(self.b) != stages:
            raise ValueError(f"{self.name}: a must have stages-1 rows and b stages weights")
        for i, row in enumerate(self.a, start=1):
            if len(row) != i or abs(sum(row) - self.c[i]) > _TOL:
                raise ValueError(f"{self.name}: row {i} of a must have {i} entries summing to c[{i}]")
        if abs(sum(self.b) - 1) > _TOL:
            raise ValueError(f"{self.name}: weights b must sum to 1")
        for label, weights in (("b_error", self.b_error), ("b_mid", self.b_mid)):
            if weights is not None and len(weights) != stages:
                raise ValueError(f"{self.name}: {label} must have one weight per stage")
        if self.b_error is not None and abs(sum(self.b_error)) > _TOL:
            raise ValueError(f"{self.name}: error weights must sum to 0")

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.b_error is not None

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage is evaluated at the step's solution (its input row of
        ``a`` is ``b``), so the solution needs no sum of its own and the next step starts from it."""
        return bool(self.a) and self.a[-1] == self.b[:-1] and self.b[-1] == 0.0


def _f(*values: F | int) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _rows(*rows: tuple[F | int, ...]) -> tuple[tuple[float, ...], ...]:
    return tuple(_f(*row) for row in rows)


def _minus(x: tuple[F | int, ...], y: tuple[F | int, ...]) -> tuple[float, ...]:
    return tuple(float(F(p) - F(q)) for p, q in zip(x, y, strict=True))


_DP_B = (F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0)
_DP_B_HAT = (F(1951, 21600), 0, F(22642, 50085), F(451, 720), F(-12231, 42400), F(649, 6300), F(1, 60))

# Dormand & Prince (1980), 5(4) with FSAL; Shampine (1986) midpoint for dense output.
DOPRI5 = ButcherTableau(
    name="dopri5",
    order=5,
    c=_f(0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1),
    a=_rows(
        (F(1, 5),),
        (F(3, 40), F(9, 40)),
        (F(44, 45), F(-56, 15), F(32, 9)),
        (F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)),
        (F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)),
        _DP_B[:6],
    ),
    b=_f(*_DP_B),
    b_error=_minus(_DP_B, _DP_B_HAT),
    b_mid=_f(
        F(6025192743, 30085553152) / 2,
        0,
        F(51252292925, 65400821598) / 2,
        F(-2691868925, 45128329728) / 2,
        F(187940372067, 1594534317056) / 2,
        F(-1776094331, 19743644256) / 2,
        F(11237099, 235043384) / 2,
    ),
)

_BS_B = (F(2, 9), F(1, 3), F(4, 9), 0)
_BS_B_HAT = (F(7, 24), F(1, 4), F(1, 3), F(1, 8))

# Bogacki & Shampine (1989), 3(2) with FSAL.
BOSH3 = ButcherTableau(
    name="bosh3",
    order=3,
    c=_f(0, F(1, 2), F(3, 4), 1),
    a=_rows((F(1, 2),), (0, F(3, 4)), _BS_B[:3]),
    b=_f(*_BS_B),
    b_error=_minus(_BS_B, _BS_B_HAT),
)

# Fehlberg's RK1(2): the 2nd-order solution is propagated, as torchdiffeq does.
FEHLBERG2 = ButcherTableau(
    name="fehlberg2",
    order=2,
    c=_f(0, F(1, 2), 1),
    a=_rows((F(1, 2),), (F(1, 256), F(255, 256))),
    b=_f(F(1, 512), F(255, 256), F(1, 512)),
    b_error=_f(F(-1, 512), 0, F(1, 512)),
)

# Heun's method with an Euler error estimate.
ADAPTIVE_HEUN = ButcherTableau(
    name="adaptive_heun",
    order=2,
    c=_f(0, 1),
    a=_rows((1,)),
    b=_f(F(1, 2), F(1, 2)),
    b_error=_f(F(1, 2), F(-1, 2)),
)

EULER = ButcherTableau(name="euler", order=1, c=_f(0), a=(), b=_f(1))
MIDPOINT = ButcherTableau(name="midpoint", order=2, c=_f(0, F(1, 2)), a=_rows((F(1, 2),)), b=_f(0, 1))
HEUN2 = ButcherTableau(name="heun2", order=2, c=_f(0, 1), a=_rows((1,)), b=_f(F(1, 2), F(1, 2)))
HEUN3 = ButcherTableau(
    name="heun3",
    order=3,
    c=_f(0, F(1, 3), F(2, 3)),
    a=_rows((F(1, 3),), (0, F(2, 3))),
    b=_f(F(1, 4), 0, F(3, 4)),
)
# Kutta's 3/8 rule, which is what torchdiffeq's "rk4" runs.
RK4 = ButcherTableau(
    name="rk4",
    order=4,
    c=_f(0, F(1, 3), F(2, 3), 1),
    a=_rows((F(1, 3),), (F(-1, 3), 1), (1, -1, 1)),
    b=_f(F(1, 8), F(3, 8), F(3, 8), F(1, 8)),
)


def check_against_catalogue(
    tableaus: tuple[ButcherTableau, ...], catalogue: Mapping[str, SolverMethod] = METHODS
) -> dict[str, ButcherTableau]:
    """The tableaus by name, each checked against the method catalogue.

    A tableau stands in for the torchdiffeq method of its name (training solved with that one),
    so it must be a served method, step on the same grid (an error estimate exactly when the
    method is adaptive) and have the same order (the controller's exponent and the starting step
    depend on it). Raises ValueError naming the first that does not fit.
    """
    by_name: dict[str, ButcherTableau] = {}
    for tab in tableaus:
        method = catalogue.get(tab.name)
        if method is None:
            raise ValueError(f"tableau {tab.name!r}: no such method in the catalogue (models_store.methods)")
        if not method.served:
            raise ValueError(f"tableau {tab.name!r}: the catalogue refuses this method ({method.refused})")
        if tab.adaptive != method.adaptive:
            raise ValueError(
                f"tableau {tab.name!r}: {'adaptive' if tab.adaptive else 'fixed'} grid, "
                f"the catalogue says {method.grid}"
            )
        if tab.order != method.order:
            raise ValueError(f"tableau {tab.name!r}: order {tab.order}, the catalogue says {method.order}")
        if tab.name in by_name:
            raise ValueError(f"tableau {tab.name!r} is listed twice")
        by_name[tab.name] = tab
    return by_name


TABLEAUS: dict[str, ButcherTableau] = check_against_catalogue(
    (DOPRI5, BOSH3, FEHLBERG2, ADAPTIVE_HEUN, EULER, MIDPOINT, HEUN2, HEUN3, RK4)
)
"""The methods we run natively; everything else served goes to torchdiffeq (reference.py)."""
ADAPTIVE_TABLEAUS: dict[str, ButcherTableau] = {n: t for n, t in TABLEAUS.items() if t.adaptive}
FIXED_TABLEAUS: dict[str, ButcherTableau] = {n: t for n, t in TABLEAUS.items() if not t.adaptive}
