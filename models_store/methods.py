"""The solver methods: one catalogue, read by training, the service and the manifest contract.

Every method torchdiffeq offers has an entry, served or not, so a name is either known here or
a typo. An entry says how the method steps (an adaptive or a fixed grid, which decides whether
``step_size`` or the tolerances apply and how ``max_steps`` bounds its work), its order where it
has one, the torchdiffeq solver it runs as, and, for a method we refuse, why and what to use
instead. Training accepts exactly the served methods and the service serves exactly them, so a
model trained with a method can always be served with it.

Whether the service runs a method natively (its own per-sample solver) is not recorded here: that
is the engine's fact (a Butcher tableau exists for it), and the engine checks its tableaus against
this catalogue when it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Grid = Literal["adaptive", "fixed"]


@dataclass(frozen=True)
class SolverMethod:
    """One method: ``name`` as requests and manifests spell it, ``torchdiffeq`` the solver it runs as.

    ``order`` is None where no single order holds (Adams methods raise theirs as the history of past
    steps fills; scipy's depends on the scipy method). ``step_limit`` is False when ``max_steps`` cannot
    bound the method's work. ``refused`` (None when served) says why we do not serve it, and
    ``instead`` names served methods to use in its place.
    """

    name: str
    grid: Grid
    order: int | None
    torchdiffeq: str
    step_limit: bool = True
    refused: str | None = None
    instead: tuple[str, ...] = ()

    @property
    def served(self) -> bool:
        return self.refused is None

    @property
    def adaptive(self) -> bool:
        return self.grid == "adaptive"

    def refusal(self) -> str:
        """The sentence a caller who asked for this refused method reads: why, and what instead."""
        *others, last = self.instead
        alternatives = f"{', '.join(others)} or {last}" if others else last
        return f"solver method {self.name!r} is not served: {self.refused}; use {alternatives} instead"


def _catalogue(*methods: SolverMethod) -> dict[str, SolverMethod]:
    """The methods by name, checked: a refusal without a reason or an alternative, or a served
    method whose work ``max_steps`` cannot bound, fails here (at import) rather than in a request."""
    by_name = {m.name: m for m in methods}
    if len(by_name) != len(methods):
        raise ValueError("a solver method is listed twice")
    for m in methods:
        if m.order is not None and m.order < 1:
            raise ValueError(f"{m.name}: order must be at least 1")
        if m.served and not m.step_limit:
            raise ValueError(f"{m.name}: a served method must be bounded by max_steps (refuse it instead)")
        if m.served and m.instead:
            raise ValueError(f"{m.name}: only a refused method names alternatives")
        if not m.served and not (m.refused and m.instead):
            raise ValueError(f"{m.name}: a refused method needs a reason and an alternative")
        unserved = [alt for alt in m.instead if alt not in by_name or not by_name[alt].served]
        if unserved:
            raise ValueError(f"{m.name}: suggested alternatives {unserved} are not served methods")
    return by_name


def _same(name: str, grid: Grid, order: int | None) -> SolverMethod:
    """A served method that runs as torchdiffeq's solver of the same name."""
    return SolverMethod(name=name, grid=grid, order=order, torchdiffeq=name)


METHODS: dict[str, SolverMethod] = _catalogue(
    _same("dopri5", "adaptive", 5),
    _same("dopri8", "adaptive", 8),
    _same("bosh3", "adaptive", 3),
    _same("fehlberg2", "adaptive", 2),
    _same("adaptive_heun", "adaptive", 2),
    _same("euler", "fixed", 1),
    _same("midpoint", "fixed", 2),
    _same("heun2", "fixed", 2),
    _same("heun3", "fixed", 3),
    _same("rk4", "fixed", 4),
    _same("implicit_adams", "fixed", None),
    _same("fixed_adams", "fixed", None),
    SolverMethod(
        name="explicit_adams",
        grid="fixed",
        order=None,
        torchdiffeq="explicit_adams",
        refused="torchdiffeq 0.2.5 gives wrong answers with it (dz/dt = -z from 1 with step 0.01 ends "
        "at exp(-0.31), not exp(-1))",
        instead=("fixed_adams", "implicit_adams", "dopri5"),
    ),
    SolverMethod(
        name="scipy_solver",
        grid="adaptive",
        order=None,
        torchdiffeq="scipy_solver",
        step_limit=False,
        refused="it needs a scipy integrator named in options no request can give, and scipy's "
        "solve_ivp has no step limit, so max_steps could not bound a request's work",
        instead=("dopri5", "dopri8"),
    ),
)
"""Every method torchdiffeq offers, by name; served ones first, in the order help texts list them."""

SERVED_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.served)
REFUSED_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if not m.served)


def served_method(name: str) -> str:
    """``name`` when it is a served method; otherwise a ValueError saying why not and what to use.

    Validators (the manifest's, training's options) call it so a refused method reads the same
    reason wherever it is given.
    """
    method = METHODS.get(name)
    if method is None:
        raise ValueError(f"unknown solver method {name!r}; served methods: {', '.join(SERVED_METHODS)}")
    if not method.served:
        raise ValueError(method.refusal())
    return name
