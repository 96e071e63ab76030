"""Resolved solver settings, and which methods the engine serves (from the method catalogue)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from models_store import METHODS, SERVED_METHODS, SolverDefaults

from .exceptions import RefusedMethod, UnknownMethod
from .tableaus import ADAPTIVE_TABLEAUS, FIXED_TABLEAUS, TABLEAUS

NATIVE_ADAPTIVE = tuple(ADAPTIVE_TABLEAUS)
NATIVE_FIXED = tuple(FIXED_TABLEAUS)
ALL_METHODS = tuple(dict.fromkeys((*NATIVE_ADAPTIVE, *NATIVE_FIXED, *SERVED_METHODS)))
"""Every method a request may name: the catalogue's served ones, native first (as errors list them)."""


@dataclass(frozen=True)
class SolverConfig:
    """Fully resolved solver settings for one solve (every field set)."""

    method: str
    rtol: float
    atol: float
    step_size: float
    max_steps: int

    def __post_init__(self) -> None:
        method = METHODS.get(self.method)
        if method is None:
            raise UnknownMethod(self.method, ALL_METHODS)
        if not method.served:
            raise RefusedMethod(method)

    @classmethod
    def resolve(cls, defaults: SolverDefaults, overrides: dict[str, Any] | None = None) -> SolverConfig:
        """Model defaults with the request's non-None overrides applied."""
        base = cls(defaults.method, defaults.rtol, defaults.atol, defaults.step_size, defaults.max_steps)
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        return replace(base, **given)

    @property
    def native(self) -> bool:
        """True when our own per-sample solver runs it (batch-invariant): it has a tableau."""
        return self.method in TABLEAUS

    @property
    def adaptive(self) -> bool:
        """Steps chosen by the tolerances (the catalogue's grid), whichever solver runs it."""
        return METHODS[self.method].adaptive

    @property
    def fixed_grid(self) -> bool:
        """Steps of ``step_size``: the grid alone says how many steps the solve takes."""
        return not self.adaptive

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rtol": self.rtol,
            "atol": self.atol,
            "step_size": self.step_size,
            "max_steps": self.max_steps,
        }


@dataclass(frozen=True)
class SampleSettings:
    """Per-sample tolerances and budgets ([B] numpy arrays): requests with different settings share
    one batch. numpy, not torch: ONNX Runtime and the solver loop (numpy) take them as they are."""

    rtol: np.ndarray  # float64
    atol: np.ndarray  # float64
    step_size: np.ndarray  # float64
    max_steps: np.ndarray  # int64

    @classmethod
    def stack(cls, parts: list[tuple[SolverConfig, int]]) -> SampleSettings:
        """Concatenate the settings of several requests, ``n`` samples each."""
        counts = [n for _, n in parts]
        col: Callable[[str, type[np.generic]], np.ndarray]  # (attribute, dtype) -> the [B] column
        if len(parts) == 1:  # one request (or a uniform batch): no repeat needed (hot path)
            col = lambda attr, dtype: np.full(counts[0], getattr(parts[0][0], attr), dtype=dtype)  # noqa: E731
        else:
            col = lambda attr, dtype: np.repeat(  # noqa: E731
                np.array([getattr(cfg, attr) for cfg, _ in parts], dtype=dtype), counts
            )
        return cls(
            rtol=col("rtol", np.float64),
            atol=col("atol", np.float64),
            step_size=col("step_size", np.float64),
            max_steps=col("max_steps", np.int64),
        )

    @classmethod
    def uniform(cls, config: SolverConfig, batch: int) -> SampleSettings:
        return cls.stack([(config, batch)])
