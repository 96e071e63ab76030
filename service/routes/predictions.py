"""``/v1`` predict and trajectory: the request's body in, the use case (:mod:`service.inference`), JSON out.

Each comes in two forms, ``/v1/models/{name}/...`` (alias ``latest``) and
``/v1/models/{name}/versions/{version-or-alias}/...``; both call one implementation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from service.deps import Runtime, RuntimeDep, require_api_key
from service.inference import predict_json, trajectory_json
from service.schemas import PredictRequest, PredictResponse, TrajectoryRequest, TrajectoryResponse, examples

from .docs import RouteDoc, errors, ok
from .models import ModelName, VersionRef

router = APIRouter(
    prefix="/v1/models",
    tags=["inference"],
    dependencies=[Depends(require_api_key)],
    responses=errors(401, 403, 404, 413, 422, 503),
)

_PREDICT_EXAMPLES: dict[str, Any] = {
    "tolerances": {"summary": "two 2-D inputs, tighter tolerances", "value": examples.PREDICT_REQUEST},
    "defaults": {
        "summary": "one input, the model's default solver",
        "value": examples.PREDICT_DEFAULTS_REQUEST,
    },
    "fixed_step": {"summary": "a fixed-step method", "value": examples.PREDICT_FIXED_REQUEST},
    "nested": {
        "summary": "an 8x8 image nested in its input shape [1, 8, 8] (digits-anode)",
        "value": examples.PREDICT_NESTED_REQUEST,
    },
}
_TRAJECTORY_EXAMPLES: dict[str, Any] = {
    "num_points": {"summary": "3 evenly spaced points", "value": examples.TRAJECTORY_REQUEST},
    "times": {"summary": "chosen times and solver", "value": examples.TRAJECTORY_TIMES_REQUEST},
}
PredictBody = Annotated[PredictRequest, Body(openapi_examples=_PREDICT_EXAMPLES)]
TrajectoryBody = Annotated[TrajectoryRequest, Body(openapi_examples=_TRAJECTORY_EXAMPLES)]
FAST_OPERATIONS = ("predict", "predict_version", "trajectory", "trajectory_version")
"""Also answered by :class:`~service.http.fast_path.SolveFastPath`."""
_PREDICT_DOC: RouteDoc = {
    "response_model": PredictResponse,
    "responses": ok(PredictResponse, examples.PREDICT_RESPONSE),
}
_TRAJECTORY_DOC: RouteDoc = {
    "response_model": TrajectoryResponse,
    "responses": ok(TrajectoryResponse, examples.TRAJECTORY_RESPONSE),
}


def fast_routes() -> list[APIRoute]:
    """The predict and trajectory routes, which :class:`~service.http.fast_path.SolveFastPath` also
    answers."""
    return [r for r in router.routes if isinstance(r, APIRoute) and r.operation_id in FAST_OPERATIONS]


@router.post("/{name}/predict", operation_id="predict", **_PREDICT_DOC)
async def predict(name: ModelName, body: PredictBody, rt: RuntimeDep, request: Request) -> Response:
    """Classify inputs with the model's ``latest`` version."""
    return await _predict(rt, request, name, None, body)


@router.post("/{name}/versions/{version}/predict", operation_id="predict_version", **_PREDICT_DOC)
async def predict_version(
    name: ModelName, version: VersionRef, body: PredictBody, rt: RuntimeDep, request: Request
) -> Response:
    """Classify inputs with a given version (number or alias)."""
    return await _predict(rt, request, name, version, body)


@router.post("/{name}/trajectory", operation_id="trajectory", **_TRAJECTORY_DOC)
async def trajectory(name: ModelName, body: TrajectoryBody, rt: RuntimeDep, request: Request) -> Response:
    """z(t) (augmented dimensions included) and class probabilities along the way, ``latest`` version."""
    return await _trajectory(rt, request, name, None, body)


@router.post("/{name}/versions/{version}/trajectory", operation_id="trajectory_version", **_TRAJECTORY_DOC)
async def trajectory_version(
    name: ModelName, version: VersionRef, body: TrajectoryBody, rt: RuntimeDep, request: Request
) -> Response:
    """z(t) and class probabilities along the way, for a given version (number or alias)."""
    return await _trajectory(rt, request, name, version, body)


async def _predict(
    rt: Runtime, request: Request, name: str, ref: str | None, body: PredictRequest
) -> Response:
    return Response(await predict_json(rt, request.scope, name, ref, body), media_type="application/json")


async def _trajectory(
    rt: Runtime, request: Request, name: str, ref: str | None, body: TrajectoryRequest
) -> Response:
    answer = await trajectory_json(rt, request.scope, name, ref, body)
    return Response(answer, media_type="application/json")
