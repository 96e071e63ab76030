"""The one prediction use case: resolve -> decode -> execute, shared by every entrance.

``/v1`` predict and trajectory (the FastAPI routes and the predict fast path), the explorer's grid
and ``/v2 infer`` differ only in how a body becomes engine inputs and how the answer is written
back. Everything between (which version answers, how it is labelled for metrics and logs, the
solver settings and their bounds, the time points and the answer's size limit, the executor
call) happens here, once and in one order, so the entrances cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from starlette.types import Scope

from service.codec import (
    check_trajectory_size,
    decode_inputs,
    decode_solver,
    decode_times,
    encode_prediction,
    encode_trajectory,
)
from service.deps import Runtime
from service.engine import Prediction, SolverConfig, Trajectory
from service.lifecycle.loading import LoadedVersion
from service.schemas import PredictRequest, SolverRequest, TrajectoryRequest
from service.telemetry.labels import label_served


@dataclass(slots=True)
class Question:
    """A request in engine terms, decoded against the version that answers it."""

    inputs: np.ndarray
    """float64 [B, *input shape]."""
    solver: SolverRequest | None
    """The request's solver overrides (None: the model's defaults)."""
    times: TrajectoryRequest | None
    """Trajectories only: the requested ``times`` or ``num_points``; None asks for a prediction."""
    part: int | None = field(default=None, kw_only=True)  # keyword-only: subclasses add fields after it
    """Predictions only: solve at most this many samples at a time (a grid; see Executor.predict)."""
    traffic: bool = field(default=True, kw_only=True)
    """False for the explorer's grids: a sweep of a box, kept out of the NFE-drift histogram."""


Q = TypeVar("Q", bound=Question)


@dataclass(slots=True)
class Answer(Generic[Q]):
    """What the engine answered, to which question, with the version and solver settings it used."""

    question: Q
    loaded: LoadedVersion
    solver: SolverConfig
    prediction: Prediction
    """The end state's classes (a trajectory's last point, for trajectories)."""
    trajectory: Trajectory | None = None


async def answer(
    rt: Runtime, scope: Scope, name: str, ref: str | None, decode: Callable[[LoadedVersion], Q]
) -> Answer[Q]:
    """Resolve ``name``/``ref`` (None: ``latest``), decode the request against it, and solve.

    ``decode`` runs once the version is known (its input shape, its default solver); an entrance
    may return a subclass of :class:`Question` that keeps what it needs to encode the answer.
    """
    loaded = resolve(rt, scope, name, ref)
    question = decode(loaded)
    cfg = decode_solver(question.solver, loaded.manifest, rt.settings)
    if question.times is None:
        prediction = await rt.executor.predict(loaded, question.inputs, cfg, question.part, question.traffic)
        return Answer(question, loaded, cfg, prediction)
    times = decode_times(question.times, loaded.manifest, rt.settings)
    check_trajectory_size(question.inputs, times, loaded.manifest, rt.settings)
    traj = await rt.executor.trajectory(loaded, question.inputs, times, cfg)
    return Answer(question, loaded, cfg, traj.final, traj)


def resolve(rt: Runtime, scope: Scope, name: str, ref: str | None) -> LoadedVersion:
    """The version that answers ``name``/``ref`` (None: ``latest``), named for metrics and logs."""
    loaded = rt.registry.resolve(name, ref)
    label_served(scope, loaded.name, str(loaded.version))
    return loaded


async def predict_json(rt: Runtime, scope: Scope, name: str, ref: str | None, body: PredictRequest) -> str:
    """``/v1`` predict's answer as JSON: the FastAPI route and the predict fast path both send it."""

    def decode(loaded: LoadedVersion) -> Question:
        return Question(decode_inputs(body.inputs, loaded.manifest, rt.settings), body.solver, None)

    done = await answer(rt, scope, name, ref, decode)
    return encode_prediction(done.loaded, done.prediction, done.solver).model_dump_json()


async def trajectory_json(
    rt: Runtime, scope: Scope, name: str, ref: str | None, body: TrajectoryRequest
) -> str:
    """``/v1`` trajectory's answer as JSON: the FastAPI route and the fast path both send it."""

    def decode(loaded: LoadedVersion) -> Question:
        return Question(decode_inputs(body.inputs, loaded.manifest, rt.settings), body.solver, body)

    done = await answer(rt, scope, name, ref, decode)
    assert done.trajectory is not None  # asked with times
    return encode_trajectory(done.loaded, done.trajectory, done.solver).model_dump_json()
