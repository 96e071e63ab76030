"""Errors the engine raises; the service maps them to HTTP answers.

EngineError
├── UnknownMethod        a solver name the method catalogue (models_store.methods) does not know
├── RefusedMethod        a catalogued method we do not serve; says why and what to use instead
└── StepLimitExceeded    a sample needed more than ``max_steps`` steps
"""

from __future__ import annotations

from collections.abc import Sequence

from models_store import SolverMethod


class EngineError(Exception):
    """Base of the engine's errors."""


class UnknownMethod(EngineError, ValueError):
    def __init__(self, method: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown solver method {method!r}; known methods: {', '.join(known)}")
        self.method = method
        self.known = tuple(known)


class RefusedMethod(EngineError, ValueError):
    """A method the catalogue knows and refuses: a caller who typed it on purpose is told why,
    and what to ask for instead, rather than that it does not exist."""

    def __init__(self, method: SolverMethod) -> None:
        super().__init__(method.refusal())
        self.method = method.name
        self.reason = method.refused or ""
        self.instead = method.instead


class StepLimitExceeded(EngineError):
    def __init__(self, samples: Sequence[int], max_steps: int, *, fixed_grid: bool = False) -> None:
        shown = ", ".join(map(str, list(samples)[:10]))
        remedy = "raise step_size" if fixed_grid else "loosen the tolerances (rtol/atol)"
        super().__init__(
            f"input(s) {shown} needed more than max_steps={max_steps} solver steps; {remedy}, "
            "or raise max_steps up to the server's cap"
        )
        self.samples = list(samples)
        self.max_steps = max_steps
