"""``/v1`` predict and trajectory: the request's body in, the use case (:mod:`service.inference`), JSON out.

Each comes in two forms, ``/v1/models/{name}/...`` (alias ``latest``) and
``/v1/models/{name}/versions/{version-or-alias}/...``; both call one implementation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from service.codec import decode_inputs, encode_trajectory
from service.deps import Runtime, RuntimeDep, require_api_key
from service.inference import Question, answer, predict_json
from service.lifecycle.loading import LoadedVersion
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
PREDICT_OPERATIONS = ("predict", "predict_version")  # also answered by service.http.fast_path
_PREDICT_DOC: RouteDoc = {
    "response_model": PredictResponse,
    "responses": ok(PredictResponse, examples.PREDICT_RESPONSE),
}
_TRAJECTORY_DOC: RouteDoc = {
    "response_model": TrajectoryResponse,
    "responses": ok(TrajectoryResponse, examples.TRAJECTORY_RESPONSE),
}


def predict_routes() -> list[APIRoute]:
    """The two predict routes, which :class:`~service.http.fast_path.PredictFastPath` also answers."""
    return [r for r in router.routes if isinstance(r, APIRoute) and r.operation_id in PREDICT_OPERATIONS]


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
    def decode(loaded: LoadedVersion) -> Question:
        return Question(decode_inputs(body.inputs, loaded.manifest, rt.settings), body.solver, body)

    done = await answer(rt, request.scope, name, ref, decode)
    assert done.trajectory is not None  # asked with times
    return _json(encode_trajectory(done.loaded, done.trajectory, done.solver))


def _json(answer: BaseModel) -> Response:
    """Serialise a response model we built ourselves, without FastAPI validating it a second time."""
    return Response(answer.model_dump_json(), media_type="application/json")
