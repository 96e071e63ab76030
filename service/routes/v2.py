"""The Open Inference Protocol (KServe v2): what Triton, KServe and MLServer clients call.

Probes and server metadata are open, like /healthz; model endpoints need the API key when the
server sets one. Versions are numbers or aliases, as in /v1. Errors under /v2 are the protocol's
``{"error": message}``, and a request that cannot be served is a 400 where /v1 says 422
(:func:`service.errors.error_response` chooses the shape and the status by path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from service import oip
from service.deps import Runtime, RuntimeDep, require_api_key
from service.inference import Question, answer
from service.lifecycle.loading import LoadedVersion
from service.oip import ModelMetadata, ModelReady, ServerLive, ServerMetadata, ServerReady, examples
from service.oip.openapi import errors, infer_answer, infer_body

from .docs import ok
from .models import ModelName, VersionRef

router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"])

_MODEL: dict[str, Any] = {"dependencies": [Depends(require_api_key)]}
_MODEL_ERRORS = errors(400, 401, 403, 404, 503)
_METADATA_DOC = {
    **_MODEL,
    "response_model": ModelMetadata,
    "responses": {**ok(ModelMetadata, examples.MODEL_METADATA), **_MODEL_ERRORS},
}
_READY_DOC = {
    **_MODEL,
    "response_model": ModelReady,
    "responses": {**ok(ModelReady, examples.MODEL_READY), **_MODEL_ERRORS},
}
_INFER_DOC = {
    **_MODEL,
    "response_model": None,
    "openapi_extra": infer_body(),
    "responses": {**infer_answer(), **errors(400, 401, 403, 404, 413, 503)},
}


@router.get(
    "",
    operation_id="v2_server_metadata",
    response_model=ServerMetadata,
    responses=ok(ServerMetadata, examples.SERVER_METADATA),
)
async def server_metadata(request: Request) -> ServerMetadata:
    """The server's name, version and protocol extensions."""
    return oip.server_metadata(request.app.version)


@router.get(
    "/health/live",
    operation_id="v2_live",
    response_model=ServerLive,
    responses=ok(ServerLive, {"live": True}),
)
async def live() -> ServerLive:
    """Live: 200 whenever the process answers."""
    return ServerLive(live=True)


@router.get(
    "/health/ready",
    operation_id="v2_ready",
    response_model=ServerReady,
    responses={
        **ok(ServerReady, {"ready": True}),
        503: {
            "model": ServerReady,
            "description": "no version loaded, or draining",
            "content": {"application/json": {"example": {"ready": False}}},
        },
    },
)
async def ready(rt: RuntimeDep) -> JSONResponse:
    """Ready (as /readyz): 200 when a version is loaded and the server is not draining, else 503."""
    is_ready = rt.registry.snapshot.count("loaded") > 0 and not rt.draining
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("/models/{name}", operation_id="v2_model_metadata", **_METADATA_DOC)
async def model_metadata(name: ModelName, rt: RuntimeDep) -> ModelMetadata:
    """The latest version's input and outputs; ``versions`` lists every loaded version."""
    loaded = rt.registry.resolve(name)
    states = rt.registry.snapshot.model(name).versions
    return oip.model_metadata(loaded.manifest, [v for v in sorted(states) if states[v].status == "loaded"])


@router.get("/models/{name}/versions/{version}", operation_id="v2_model_version_metadata", **_METADATA_DOC)
async def model_version_metadata(name: ModelName, version: VersionRef, rt: RuntimeDep) -> ModelMetadata:
    """One version's (number or alias) input and outputs."""
    loaded = rt.registry.resolve(name, version)
    return oip.model_metadata(loaded.manifest, [loaded.version])


@router.get("/models/{name}/ready", operation_id="v2_model_ready", **_READY_DOC)
async def model_ready(name: ModelName, rt: RuntimeDep) -> ModelReady:
    """200 when the latest version is loaded; 404 unknown, 503 failed to load (the message says why)."""
    return _ready(rt, name, None)


@router.get("/models/{name}/versions/{version}/ready", operation_id="v2_model_version_ready", **_READY_DOC)
async def model_version_ready(name: ModelName, version: VersionRef, rt: RuntimeDep) -> ModelReady:
    """200 when that version (number or alias) is loaded."""
    return _ready(rt, name, version)


@router.post("/models/{name}/infer", operation_id="v2_infer", **_INFER_DOC)
async def infer(name: ModelName, request: Request, rt: RuntimeDep) -> Response:
    """Classify with the latest version; solver settings and trajectory times in ``parameters``."""
    return await _infer(rt, request, name, None)


@router.post("/models/{name}/versions/{version}/infer", operation_id="v2_infer_version", **_INFER_DOC)
async def infer_version(name: ModelName, version: VersionRef, request: Request, rt: RuntimeDep) -> Response:
    """Classify with a given version (number or alias)."""
    return await _infer(rt, request, name, version)


def _ready(rt: Runtime, name: str, ref: str | None) -> ModelReady:
    return ModelReady(name=name, version=str(rt.registry.resolve(name, ref).version), ready=True)


@dataclass(slots=True)
class _Infer(Question):
    body: oip.InferRequest
    """The parsed request: which outputs it asked for, and in which datatype and framing."""


async def _infer(rt: Runtime, request: Request, name: str, ref: str | None) -> Response:
    payload, headers = await request.body(), request.headers

    def decode(loaded: LoadedVersion) -> _Infer:
        body, raw = oip.parse_request(payload, headers, rt.settings.max_body_bytes)
        inputs = oip.decode_input(body.inputs[0], raw[0], loaded.manifest, rt.settings)
        times = body.parameters.time_points() if body.wants_trajectory else None
        return _Infer(inputs, body.parameters.solver(), times, body)

    done = await answer(rt, request.scope, name, ref, decode)
    body = done.question.body
    classes, float_type = done.loaded.manifest.classes, body.inputs[0].datatype
    if done.trajectory is None:
        tensors = oip.prediction_tensors(done.prediction, classes, float_type)
    else:
        tensors = oip.trajectory_tensors(done.trajectory, classes, float_type)
    return oip.encode_response(body, done.loaded, tensors, done.solver, done.prediction.batch_invariant)
