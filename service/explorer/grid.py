"""The grid: a model's answers over a box of its input plane (the decision surface, the NFE map).

Every point is one sample of one prediction, solved by predict's own use case
(:func:`service.inference.answer`: the same version resolution, solver bounds, executor,
deadline and metrics) in parts of the batcher's size, so a cell's label, probabilities and NFE
are what predict answers for that point (native methods are batch-invariant). Its samples are
not traffic: a sweep reaches far from the data, so they stay out of the per-sample NFE histogram
that the NFE-drift alert compares with the golden baseline.
"""

from __future__ import annotations

import numpy as np
from starlette.types import Scope

from service.codec import solver_settings
from service.deps import Runtime
from service.errors import InputShapeError, LimitExceeded
from service.inference import Answer, Question, answer
from service.lifecycle.loading import LoadedVersion
from service.schemas import GridRequest, GridResponse

from .plane import axes, points, rows

PLANE_INPUT = [2]
"""The input shape a grid covers: a point of the plane."""


async def grid_answer(
    rt: Runtime, scope: Scope, name: str, ref: str | None, body: GridRequest
) -> GridResponse:
    """Solve every point of the box with the version ``name``/``ref`` (None: ``latest``)."""
    xs, ys = axes(body.bounds, body.resolution)

    def decode(loaded: LoadedVersion) -> Question:
        _check_plane_input(loaded)
        _check_size(len(xs), len(ys), rt.settings.max_grid_points)
        part = min(rt.settings.max_batch_size, rt.settings.max_queue)
        return Question(points(xs, ys), body.solver, None, part=part, traffic=False)

    return _encode(await answer(rt, scope, name, ref, decode), xs, ys)


def _check_plane_input(loaded: LoadedVersion) -> None:
    shape = list(loaded.manifest.input.shape)
    if shape != PLANE_INPUT:
        raise InputShapeError(
            f"model {loaded.name!r} takes inputs of shape {shape}; the grid covers models whose input "
            "is 2 numbers (a point of the plane)",
            {"expected_shape": PLANE_INPUT, "model_input_shape": shape},
        )


def _check_size(nx: int, ny: int, limit: int) -> None:
    if nx * ny > limit:
        raise LimitExceeded(
            f"the grid has {nx * ny} points ({nx} x {ny}); this server evaluates at most {limit} per "
            "grid: lower the resolution",
            {"max_grid_points": limit},
        )


def _encode(done: Answer[Question], xs: np.ndarray, ys: np.ndarray) -> GridResponse:
    pred, nx = done.prediction, len(xs)
    # torchdiffeq's count is the whole batch's, not a point's: no NFE map from it
    nfe = rows(np.asarray(pred.nfe), nx) if pred.batch_invariant else [[None] * nx for _ in ys]
    return GridResponse.model_construct(
        model=done.loaded.name,
        version=done.loaded.version,
        solver=solver_settings(done.solver),
        classes=list(done.loaded.manifest.classes),
        xs=xs.tolist(),
        ys=ys.tolist(),
        probabilities=rows(pred.probabilities, nx),
        labels=rows(np.asarray(pred.labels), nx),
        nfe=nfe,
        batch_invariant=pred.batch_invariant,
    )
