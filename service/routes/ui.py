"""The model explorer's pages under ``/ui/``: static HTML, JavaScript and CSS from ``service/static/ui``.

The pages carry no data: their scripts draw from the JSON endpoints under ``/v1`` (sending the
visitor's API key when the server has keys), so the pages themselves need none. Nothing a request
carries is written into a page: a model name reaches the explorer only through its URL, which the
script reads as text. ``ODESERVE_UI=false`` turns every page into a 404; ``/`` then points at
``/docs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from models_store import METHODS, SERVED_METHODS, validate_name
from service.deps import RuntimeDep
from service.errors import NotFound

from .static_files import StaticFolder

_FILES = StaticFolder("ui")
STATIC_DIR = _FILES.directory
PAGE_HEADERS = {
    # The pages load nothing from elsewhere: a CDN link slipped in by mistake fails in the browser too.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


async def require_ui(request: Request, rt: RuntimeDep) -> None:
    """The pages exist only while the explorer is on."""
    if not rt.settings.ui:
        raise NotFound(f"no route {request.url.path}: the model explorer is off (ODESERVE_UI=false)")


router = APIRouter(include_in_schema=False)
_UI_ON = [Depends(require_ui)]


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/")
async def root(rt: RuntimeDep) -> RedirectResponse:
    """A person opening the server's address lands on the explorer, or on the API docs without it."""
    return RedirectResponse("/ui/" if rt.settings.ui else "/docs", status_code=302)


@router.get("/ui", dependencies=_UI_ON)
async def ui_without_slash() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=302)


@router.get("/ui/", dependencies=_UI_ON)
async def models_page() -> FileResponse:
    """The models and their versions."""
    return _page("index.html")


@router.get("/ui/models/{name}", dependencies=_UI_ON)
async def explorer_page(name: str) -> FileResponse:
    """One model's explorer; the version is chosen on the page (``?version=`` keeps the choice)."""
    validate_name(name)  # an impossible name is a 404 here, as under /v1
    return _page("explorer.html")


@router.get("/ui/methods.json", dependencies=_UI_ON)
async def solver_methods() -> dict[str, Any]:
    """The served solver methods, from the one catalogue, for the solver panel's choices."""
    return {
        "methods": [{"name": m, "grid": METHODS[m].grid, "order": METHODS[m].order} for m in SERVED_METHODS]
    }


@router.get("/ui/static/{path:path}", dependencies=_UI_ON)
async def static_file(path: str, request: Request) -> Response:
    """The pages' scripts, styles and the vendored plotting library."""
    return await _FILES.serve(path, request.scope)
