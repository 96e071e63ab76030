"""``/v1`` explorer endpoints: the numbers the model explorer's pictures are drawn from.

Grid (class probabilities and NFE over a box of the input plane), vector field (f(t, z) on a
plane of the ODE state) and dataset (the training points, regenerated). Each comes in two forms,
``/v1/models/{name}/...`` (alias ``latest``) and ``/v1/models/{name}/versions/{version-or-alias}/...``;
both call one implementation (:mod:`service.explorer`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from service.deps import RuntimeDep, require_api_key
from service.explorer import dataset_answer, grid_answer, vector_field_answer
from service.explorer.dataset import MAX_POINTS, Split
from service.schemas import (
    DatasetResponse,
    GridRequest,
    GridResponse,
    VectorFieldRequest,
    VectorFieldResponse,
    examples,
)

from .docs import RouteDoc, errors, ok
from .models import ModelName, VersionRef

router = APIRouter(
    prefix="/v1/models",
    tags=["explorer"],
    dependencies=[Depends(require_api_key)],
    responses=errors(401, 403, 404, 422, 503),
)

_GRID_EXAMPLES: dict[str, Any] = {
    "defaults": {"summary": "a 3 x 2 grid, the model's default solver", "value": examples.GRID_REQUEST},
    "solver": {"summary": "a 64 x 48 grid, tighter tolerances", "value": examples.GRID_SOLVER_REQUEST},
}
_FIELD_EXAMPLES: dict[str, Any] = {
    "input_plane": {
        "summary": "the plane of the first two state dimensions",
        "value": examples.VECTOR_FIELD_REQUEST,
    },
    "augmented": {
        "summary": "an ANODE's plane through an augmented dimension (circles-anode)",
        "value": examples.VECTOR_FIELD_AUGMENTED_REQUEST,
    },
}
GridBody = Annotated[GridRequest, Body(openapi_examples=_GRID_EXAMPLES)]
FieldBody = Annotated[VectorFieldRequest, Body(openapi_examples=_FIELD_EXAMPLES)]
SplitQuery = Annotated[Split, Query(description="which part of the seeded split")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_POINTS, description="the most points to send")]
_GRID_DOC: RouteDoc = {
    "response_model": GridResponse,
    "responses": {**ok(GridResponse, examples.GRID_RESPONSE), **errors(413)},
}
_FIELD_DOC: RouteDoc = {
    "response_model": VectorFieldResponse,
    "responses": {**ok(VectorFieldResponse, examples.VECTOR_FIELD_RESPONSE), **errors(413)},
}
_DATASET_DOC: RouteDoc = {
    "response_model": DatasetResponse,
    "responses": ok(DatasetResponse, examples.DATASET_RESPONSE),
}


@router.post("/{name}/grid", operation_id="grid", **_GRID_DOC)
async def grid(name: ModelName, body: GridBody, rt: RuntimeDep, request: Request) -> Response:
    """Class probabilities, labels and per-point NFE over a box of the input plane (models whose
    input is 2 numbers), ``latest`` version; each cell is what predict answers for its point."""
    return _json(await grid_answer(rt, request.scope, name, None, body))


@router.post("/{name}/versions/{version}/grid", operation_id="grid_version", **_GRID_DOC)
async def grid_version(
    name: ModelName, version: VersionRef, body: GridBody, rt: RuntimeDep, request: Request
) -> Response:
    """The grid for a given version (number or alias)."""
    return _json(await grid_answer(rt, request.scope, name, version, body))


@router.post("/{name}/vector_field", operation_id="vector_field", **_FIELD_DOC)
async def vector_field(name: ModelName, body: FieldBody, rt: RuntimeDep, request: Request) -> Response:
    """The learned vector field f(t, z) on a plane through the ODE state, ``latest`` version."""
    return _json(await vector_field_answer(rt, request.scope, name, None, body))


@router.post("/{name}/versions/{version}/vector_field", operation_id="vector_field_version", **_FIELD_DOC)
async def vector_field_version(
    name: ModelName, version: VersionRef, body: FieldBody, rt: RuntimeDep, request: Request
) -> Response:
    """The vector field of a given version (number or alias)."""
    return _json(await vector_field_answer(rt, request.scope, name, version, body))


@router.get("/{name}/dataset", operation_id="dataset", **_DATASET_DOC)
async def dataset(
    name: ModelName, rt: RuntimeDep, request: Request, split: SplitQuery = "train", limit: LimitQuery = 500
) -> Response:
    """The points the ``latest`` version was trained (or tested) on, regenerated from its manifest
    (toy datasets only)."""
    return _json(await dataset_answer(rt, request.scope, name, None, split, limit))


@router.get("/{name}/versions/{version}/dataset", operation_id="dataset_version", **_DATASET_DOC)
async def dataset_version(
    name: ModelName,
    version: VersionRef,
    rt: RuntimeDep,
    request: Request,
    split: SplitQuery = "train",
    limit: LimitQuery = 500,
) -> Response:
    """The training (or test) points of a given version (number or alias)."""
    return _json(await dataset_answer(rt, request.scope, name, version, split, limit))


def _json(answer: BaseModel) -> Response:
    """Serialise a response model we built ourselves, without FastAPI validating it a second time."""
    return Response(answer.model_dump_json(), media_type="application/json")
