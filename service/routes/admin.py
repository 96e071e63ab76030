"""Admin actions (need the admin API key; disabled when the server has none)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends

from service import views
from service.deps import Runtime, RuntimeDep, require_admin_key
from service.lifecycle.registry import Changes
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
    """Re-read the store now, re-hashing every file: new versions, alias moves, tampered files.

    Every worker process of this server does it: the answer comes once all have (or after 5 s
    more); `workers_applied` of `workers` says how many had. The changes listed are this worker's.
    """
    signal = rt.reload_signal
    if signal is None:  # the only worker
        return views.reload_report(await _refresh(rt))
    generation = await anyio.to_thread.run_sync(signal.bump)  # the other workers start theirs
    try:
        changes = await _refresh(rt)
    finally:
        signal.acknowledge(generation)
    return views.reload_report(changes, await signal.wait_applied(generation))


async def _refresh(rt: Runtime) -> Changes:
    return await anyio.to_thread.run_sync(lambda: rt.registry.refresh(full=True))
