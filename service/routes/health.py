"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import RuntimeDep
from service.schemas import Liveness, Readiness, examples

from .docs import ok

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", operation_id="healthz", response_model=Liveness, responses=ok(Liveness, {"status": "ok"})
)
async def healthz() -> Liveness:
    """Live: 200 whenever the process answers."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={
        **ok(Readiness, examples.READINESS),
        503: {
            "model": Readiness,
            "description": "no version loaded, or draining",
            "content": {
                "application/json": {
                    "example": {**examples.READINESS, "status": "not_ready", "loaded_versions": 0}
                }
            },
        },
    },
)
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Ready: 200 when at least one version is loaded and the server is not draining, else 503."""
    snapshot = rt.registry.snapshot
    loaded = snapshot.count("loaded")
    ready = loaded > 0 and not rt.draining
    body = Readiness(
        status="ready" if ready else "not_ready",
        loaded_versions=loaded,
        failed_versions=snapshot.count("failed"),
        draining=rt.draining,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
