"""What the registry holds: models, their versions (loaded or failed, and why) and aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from service import views
from service.deps import RuntimeDep, require_api_key
from service.schemas import ModelDetail, ModelList, VersionDetail, examples

from .docs import errors, ok
from .reports import report_urls

router = APIRouter(
    prefix="/v1/models", tags=["models"], dependencies=[Depends(require_api_key)], responses=errors(401, 403)
)

ModelName = Annotated[str, Path(description="model name", examples=["moons-node"])]
VersionRef = Annotated[str, Path(description="version number or alias", examples=["1", "latest", "stable"])]


@router.get(
    "", operation_id="list_models", response_model=ModelList, responses=ok(ModelList, examples.MODEL_LIST)
)
async def list_models(rt: RuntimeDep) -> ModelList:
    """Every model in the store, with its versions, aliases and what its latest version expects."""
    models = rt.registry.snapshot.models
    return ModelList(models=[views.model_summary(models[name]) for name in sorted(models)])


@router.get(
    "/{name}",
    operation_id="get_model",
    response_model=ModelDetail,
    responses={**ok(ModelDetail, examples.MODEL_DETAIL), **errors(404, 422)},
)
async def get_model(name: ModelName, rt: RuntimeDep) -> ModelDetail:
    """A model's versions (status loaded or failed, with the reason, and the URL of their training
    report), aliases, input shape, classes, default solver and training metrics."""
    model = rt.registry.snapshot.model(name)
    return views.model_detail(model, report_urls(rt, model))


@router.get(
    "/{name}/versions/{version}",
    operation_id="get_version",
    response_model=VersionDetail,
    responses={**ok(VersionDetail, examples.VERSION_DETAIL), **errors(404, 422)},
)
async def get_version(name: ModelName, version: VersionRef, rt: RuntimeDep) -> VersionDetail:
    """One version (by number or alias): manifest summary, load status and golden NFE baseline."""
    model = rt.registry.snapshot.model(name)
    return views.version_detail(model, model.lookup(version))
