"""Decode validated requests into engine inputs (checking the limits that depend on the model and
the settings) and encode engine results into response models."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models_store import Manifest
from service.engine import Prediction, SolverConfig, Trajectory
from service.lifecycle.loading import LoadedVersion

from .errors import InputShapeError, InvalidRequest, LimitExceeded, RequestValidationFailed
from .schemas import PredictResponse, SolverRequest, SolverSettings, TrajectoryRequest, TrajectoryResponse
from .settings import Settings

DEFAULT_NUM_POINTS = 20


def decode_inputs(samples: list[Any], manifest: Manifest, limits: Settings) -> np.ndarray:
    """The samples as float64 [B, *input shape]; each may be flat or nested in the input shape."""
    if len(samples) > limits.max_inputs:
        raise LimitExceeded(
            f"{len(samples)} inputs sent; this server answers at most {limits.max_inputs} "
            "per request: split the batch",
            {"max_inputs": limits.max_inputs},
        )
    shape = tuple(manifest.input.shape)
    try:
        batch = np.asarray(samples, dtype=np.float64)
    except ValueError:  # ragged or mixed nesting: check sample by sample below
        batch = np.empty(0)
    if batch.shape[1:] == shape:
        return batch
    if batch.shape[1:] == (math.prod(shape),):
        return batch.reshape(-1, *shape)
    return np.stack([_sample(i, s, manifest) for i, s in enumerate(samples)])


def _sample(index: int, sample: Any, manifest: Manifest) -> np.ndarray:
    shape = tuple(manifest.input.shape)
    size = math.prod(shape)
    try:
        arr = np.asarray(sample, dtype=np.float64)
    except ValueError:
        arr = None
    if arr is not None and (arr.shape == shape or arr.shape == (size,)):
        return arr.reshape(shape)
    got = "a ragged nesting" if arr is None else f"shape {list(arr.shape)}"
    raise InputShapeError(
        f"inputs[{index}] has {got}; model {manifest.name!r} expects {size} numbers per sample, "
        f"flat or nested as {list(shape)}",
        {
            "index": index,
            "expected_shape": list(shape),
            "expected_size": size,
            "got_shape": None if arr is None else list(arr.shape),
        },
    )


def decode_solver(request: SolverRequest | None, manifest: Manifest, limits: Settings) -> SolverConfig:
    """Model defaults with the request's overrides, inside the server's bounds."""
    if request is None:  # the common case, on the hot path: no overrides to check
        d = manifest.default_solver
        return SolverConfig(d.method, d.rtol, d.atol, d.step_size, min(d.max_steps, limits.max_steps_cap))
    given = request.model_dump(exclude_none=True)
    found = [_tolerance_error(k, given[k], limits) for k in ("rtol", "atol") if k in given]
    if given.get("max_steps", 0) > limits.max_steps_cap:
        found.append(
            _error(
                "max_steps",
                given["max_steps"],
                "less_than_equal",
                f"max_steps may be at most {limits.max_steps_cap} on this server",
            )
        )
    errors = [e for e in found if e is not None]
    if errors:
        raise RequestValidationFailed(f"solver settings out of bounds: {errors[0]['msg']}", errors)
    given.setdefault("max_steps", min(manifest.default_solver.max_steps, limits.max_steps_cap))
    return SolverConfig.resolve(manifest.default_solver, given)


def _tolerance_error(key: str, value: float, limits: Settings) -> dict[str, Any] | None:
    if limits.min_tolerance <= value <= limits.max_tolerance:
        return None
    return _error(
        key,
        value,
        "tolerance_bounds",
        f"{key} must be between {limits.min_tolerance:g} and {limits.max_tolerance:g}",
    )


def _error(key: str, value: Any, kind: str, msg: str) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", "solver", key], "msg": msg, "input": repr(value)}


def decode_times(request: TrajectoryRequest, manifest: Manifest, limits: Settings) -> np.ndarray:
    """The requested time points: strictly increasing and inside the model's interval."""
    t0, t1 = manifest.interval
    if request.times is None:
        count = request.num_points or DEFAULT_NUM_POINTS
        _check_time_points(count, limits)
        return np.linspace(t0, t1, count)
    times = np.asarray(request.times, dtype=np.float64)
    _check_time_points(len(times), limits)
    if np.any(np.diff(times) <= 0):
        raise InvalidRequest("times must be strictly increasing", {"times": request.times[:20]})
    if times[0] < t0 or times[-1] > t1:
        raise InvalidRequest(
            f"times must lie inside model {manifest.name!r}'s interval [{t0:g}, {t1:g}]",
            {"interval": [t0, t1]},
        )
    return times


def _check_time_points(count: int, limits: Settings) -> None:
    if count > limits.max_time_points:
        raise LimitExceeded(
            f"{count} time points asked; this server answers at most {limits.max_time_points}",
            {"max_time_points": limits.max_time_points},
        )


def check_trajectory_size(
    inputs: np.ndarray, times: np.ndarray, manifest: Manifest, limits: Settings
) -> None:
    """Bound the answer's size: time points x inputs x (state dim + classes) numbers."""
    width = manifest.architecture.state_dim + len(manifest.classes)
    values = len(times) * len(inputs) * width
    if values > limits.max_trajectory_values:
        raise LimitExceeded(
            f"the trajectory would hold {values} numbers ({len(times)} times x {len(inputs)} inputs x "
            f"{width}); "
            f"this server answers at most {limits.max_trajectory_values}: ask fewer time points or inputs",
            {"max_trajectory_values": limits.max_trajectory_values},
        )


def encode_prediction(loaded: LoadedVersion, pred: Prediction, cfg: SolverConfig) -> PredictResponse:
    return PredictResponse.model_construct(
        model=loaded.name,
        version=loaded.version,
        **_prediction_fields(loaded, pred, cfg),
        probabilities=np.asarray(pred.probabilities).tolist(),
    )


def encode_trajectory(loaded: LoadedVersion, traj: Trajectory, cfg: SolverConfig) -> TrajectoryResponse:
    return TrajectoryResponse.model_construct(
        model=loaded.name,
        version=loaded.version,
        times=[float(t) for t in traj.times],
        states=np.asarray(traj.states).tolist(),
        probabilities=np.asarray(traj.probabilities).tolist(),
        final_probabilities=np.asarray(traj.final.probabilities).tolist(),
        **_prediction_fields(loaded, traj.final, cfg),
    )


def _prediction_fields(loaded: LoadedVersion, pred: Prediction, cfg: SolverConfig) -> dict[str, Any]:
    classes = loaded.manifest.classes
    return {
        "predictions": [classes[int(i)] for i in pred.labels],
        "nfe": [int(n) for n in pred.nfe],
        "accepted_steps": None if pred.accepted is None else [int(n) for n in pred.accepted],
        "rejected_steps": None if pred.rejected is None else [int(n) for n in pred.rejected],
        "solver": solver_settings(cfg),
        "batch_invariant": bool(pred.batch_invariant),
    }


def solver_settings(cfg: SolverConfig) -> SolverSettings:
    return SolverSettings.model_construct(**cfg.as_dict())  # resolved and bounded by decode_solver
