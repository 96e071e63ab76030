"""The solver engine: per-sample Runge-Kutta from Butcher tableaus, torchdiffeq for the rest.

Public surface: :class:`ModelRunner` (a loaded version that answers predict/trajectory),
:class:`SolverConfig` (resolved settings), :func:`solve` (the raw solver) and the errors.
"""

from .config import ALL_METHODS, NATIVE_ADAPTIVE, NATIVE_FIXED, SolverConfig
from .errors import EngineError, StepLimitExceeded, UnknownMethod
from .integrate import Solution
from .runner import ModelRunner, Prediction, Trajectory
from .solve import solve

__all__ = [
    "ALL_METHODS", "NATIVE_ADAPTIVE", "NATIVE_FIXED", "EngineError", "ModelRunner", "Prediction",
    "SolverConfig", "Solution", "StepLimitExceeded", "Trajectory", "UnknownMethod", "solve",
]
