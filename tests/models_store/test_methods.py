"""The method catalogue: every torchdiffeq method, described as torchdiffeq itself has it, and a
refusal that says why and what to use instead."""

from __future__ import annotations

import math

import pytest
import torch
import torchdiffeq
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.solvers import FixedGridODESolver

from models_store import METHODS, REFUSED_METHODS, SERVED_METHODS, SolverMethod, served_method
from models_store.methods import _catalogue


def test_the_catalogue_is_torchdiffeqs_methods() -> None:
    assert set(METHODS) == set(SOLVERS)
    assert set(SERVED_METHODS) | set(REFUSED_METHODS) == set(METHODS)
    assert not set(SERVED_METHODS) & set(REFUSED_METHODS)


@pytest.mark.parametrize("name", list(METHODS))
def test_each_entry_matches_the_torchdiffeq_solver_it_runs_as(name: str) -> None:
    method = METHODS[name]
    solver = SOLVERS[method.torchdiffeq]
    assert method.name == name
    if name != "scipy_solver":  # scipy's wrapper is neither kind; scipy steps adaptively
        assert method.adaptive == (not issubclass(solver, FixedGridODESolver))
    if method.order is not None:
        assert method.order == solver.order


@pytest.mark.parametrize("name", SERVED_METHODS)
def test_served_methods_are_bounded_and_name_no_alternative(name: str) -> None:
    method = METHODS[name]
    assert method.served and method.step_limit and method.refused is None and method.instead == ()


@pytest.mark.parametrize("name", REFUSED_METHODS)
def test_refused_methods_say_why_and_suggest_served_ones(name: str) -> None:
    method = METHODS[name]
    assert not method.served and method.refused and method.instead
    assert all(METHODS[alt].served for alt in method.instead)
    text = method.refusal()
    assert name in text and method.refused in text and all(alt in text for alt in method.instead)


def test_explicit_adams_is_refused_because_torchdiffeq_gets_it_wrong() -> None:
    """The reason the catalogue gives, measured: dz/dt = -z from 1 with step 0.01 should end at exp(-1)."""
    z1 = lambda m: torchdiffeq.odeint(  # noqa: E731
        lambda t, z: -z,
        torch.ones(1, dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        method=m,
        options={"step_size": 0.01},
    )[-1].item()
    assert z1("explicit_adams") == pytest.approx(math.exp(-0.31), abs=5e-3)
    for alternative in ("fixed_adams", "implicit_adams"):
        assert z1(alternative) == pytest.approx(math.exp(-1), abs=1e-8)
    assert set(METHODS["explicit_adams"].instead) >= {"fixed_adams", "implicit_adams", "dopri5"}


def test_scipy_solver_is_refused_for_having_no_step_limit() -> None:
    method = METHODS["scipy_solver"]
    assert not method.served and not method.step_limit and "step limit" in (method.refused or "")


def test_served_method_names_the_reason_or_the_served_list() -> None:
    assert served_method("rk4") == "rk4"
    with pytest.raises(ValueError, match="wrong answers.*use fixed_adams, implicit_adams or dopri5"):
        served_method("explicit_adams")
    with pytest.raises(ValueError, match="unknown solver method 'rk45'; served methods: dopri5"):
        served_method("rk45")


@pytest.mark.parametrize(
    "entries, problem",
    [
        ((SolverMethod("a", "fixed", 1, "euler"),) * 2, "twice"),
        ((SolverMethod("a", "fixed", 0, "euler"),), "order"),
        ((SolverMethod("a", "adaptive", None, "scipy_solver", step_limit=False),), "bounded by max_steps"),
        ((SolverMethod("a", "fixed", 1, "euler", instead=("a",)),), "only a refused method"),
        ((SolverMethod("a", "fixed", 1, "euler", refused="broken"),), "reason and an alternative"),
        ((SolverMethod("a", "fixed", 1, "euler", refused="broken", instead=("b",)),), "not served"),
    ],
)
def test_an_inconsistent_catalogue_fails_at_construction(
    entries: tuple[SolverMethod, ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        _catalogue(*entries)
