"""The solver engine: per-sample Runge-Kutta from Butcher tableaus, torchdiffeq for the rest.

Public surface: :class:`ModelRunner` (a loaded version that answers predict/trajectory),
:class:`SolverConfig` (resolved settings) and :class:`SampleSettings` (per sample, for batches),
:func:`solve` (the raw solver), :func:`check_budget`, :class:`CancelToken`, the backends' names and
the errors. Nothing outside ``service/engine/`` imports its modules directly (a test holds this):
what is not listed here is free to change.
"""

from .backends import BackendError, BackendName
from .cancel import CancelToken
from .config import ALL_METHODS, NATIVE_ADAPTIVE, NATIVE_FIXED, SampleSettings, SolverConfig
from .exceptions import EngineError, RefusedMethod, StepLimitExceeded, UnknownMethod
from .integrate import Solution
from .runner import ModelRunner, Prediction, Trajectory
from .solve import check_budget, solve

__all__ = [
    "BackendError",
    "BackendName",
    "CancelToken",
    "SampleSettings",
    "check_budget",
    "ALL_METHODS",
    "NATIVE_ADAPTIVE",
    "NATIVE_FIXED",
    "EngineError",
    "ModelRunner",
    "Prediction",
    "RefusedMethod",
    "SolverConfig",
    "Solution",
    "StepLimitExceeded",
    "Trajectory",
    "UnknownMethod",
    "solve",
]
