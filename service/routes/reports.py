"""Training reports under ``/ui/models/{name}/versions/{version}/report/``: one HTML page, PNG figures.

A report is built offline (``python -m training report``) into the store beside its version
(models_store/reports.py), so whoever writes the store writes these files. They are served as
inert as can be: only the report's fixed file names (never a path from the request), each with
the content type its name fixes, ``nosniff`` so a browser never reads a PNG as anything else, and a
Content-Security-Policy that runs no script and loads nothing but the report's own images. Like
every ``/v1/models`` answer they need the API key when the server has keys (a report is a picture
of the model): in the header, or in the cookie the explorer sets once the visitor gave the key (a
plain link cannot send a header); like the explorer's pages ``ODESERVE_UI=false`` turns them into
404s.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from models_store import REPORT_FIGURES, REPORT_PAGE
from service.deps import Runtime, RuntimeDep, require_report_key
from service.errors import NotFound
from service.lifecycle.registry import ModelState

from .ui import require_ui

REPORT_URL: Final = "/ui/models/{name}/versions/{version}/report/"
_MEDIA_TYPES: Final = {".html": "text/html; charset=utf-8", ".png": "image/png"}
REPORT_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # rebuilt in place: ask again rather than show an old picture
}

router = APIRouter(
    prefix="/ui/models/{name}/versions/{version}/report",
    include_in_schema=False,
    dependencies=[Depends(require_ui), Depends(require_report_key)],
)


@router.get("/")
async def report_page(name: str, version: str, rt: RuntimeDep) -> Response:
    """The report's page; its images are relative links to the figures below."""
    return await _serve(rt, name, version, REPORT_PAGE)


@router.get("/{file}")
async def report_figure(name: str, version: str, file: str, rt: RuntimeDep) -> Response:
    """One of the report's files, by its fixed name."""
    return await _serve(rt, name, version, file)


def report_urls(rt: Runtime, model: ModelState) -> Mapping[int, str]:
    """The report page's URL of each version of ``model`` that has one (none while the UI is off)."""
    if not rt.settings.ui:
        return {}
    store = rt.registry.store
    return {
        version: REPORT_URL.format(name=model.name, version=version)
        for version in model.versions
        if store.report_file(model.name, version, REPORT_PAGE) is not None
    }


async def _serve(rt: Runtime, name: str, ref: str, file: str) -> Response:
    version = rt.registry.snapshot.model(name).lookup(ref).version
    path = rt.registry.store.report_file(name, version, file)
    if path is None:
        raise _missing(rt, name, version, file)
    try:
        content = await anyio.to_thread.run_sync(path.read_bytes)
    except OSError:  # removed between the check and the read (a rebuild swapping it in)
        raise _missing(rt, name, version, file) from None
    return Response(content, media_type=_MEDIA_TYPES[Path(file).suffix], headers=REPORT_HEADERS)


def _missing(rt: Runtime, name: str, version: int, file: str) -> NotFound:
    if rt.registry.store.report_file(name, version, REPORT_PAGE) is None:
        return NotFound(
            f"no report for {name}/{version}: build it with `python -m training report {name} {version}`"
        )
    return NotFound(
        f"the report of {name}/{version} has no such file; a report's files are {REPORT_PAGE} and "
        f"figures among {', '.join(REPORT_FIGURES)}"
    )
