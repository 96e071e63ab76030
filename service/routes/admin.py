"""Admin actions (need the admin API key; disabled when the server has none)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends

from service import views
from service.deps import RuntimeDep, require_admin_key
from service.schemas import ReloadReport, examples

from .docs import errors, ok

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin_key)], responses=errors(401, 403)
)


@router.post(
    "/reload",
    operation_id="reload",
    response_model=ReloadReport,
    responses=ok(ReloadReport, examples.RELOAD_REPORT),
)
async def reload(rt: RuntimeDep) -> ReloadReport:
    """Re-read the store now, re-hashing every file: new versions, alias moves, tampered files."""
    changes = await anyio.to_thread.run_sync(lambda: rt.registry.refresh(full=True))
    return views.reload_report(changes)
