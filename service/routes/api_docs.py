"""The API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with nothing loaded from the internet.

FastAPI's own pages load their scripts from a public CDN (and a favicon from fastapi.tiangolo.com),
so on a machine without internet ``/docs`` is blank. These routes build the same pages with
FastAPI's helpers, pointed at copies vendored under ``service/static/docs/vendor/`` (the pinned
versions and how to re-vendor: the README there). None of them is part of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from .static_files import StaticFolder

SWAGGER_UI = "swagger-ui-dist@5.35.0"
REDOC = "redoc@2.5.4"
ASSETS = "/docs/static"
"""Where the files under ``service/static/docs/`` are served."""
OAUTH2_REDIRECT = "/docs/oauth2-redirect"  # FastAPI's default, kept for Swagger UI's OAuth2 flows

_FILES = StaticFolder("docs")
STATIC_DIR = _FILES.directory
# Swagger UI asks validator.swagger.io for a badge unless told not to; the spec is checked in tests.
_SWAGGER_PARAMETERS = {"validatorUrl": None}
# The browser refuses anything beyond the server, so a CDN link in a future bundle fails loudly.
# FastAPI's pages start their bundles from inline scripts; ReDoc styles inline and searches in a
# worker it builds from a blob.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS}/vendor/{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/vendor/{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.svg",
        oauth2_redirect_url=root + OAUTH2_REDIRECT,
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )
    return _guarded(page)


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _guarded(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_redoc_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS}/vendor/{REDOC}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.svg",
        with_google_fonts=False,  # the system's sans-serif instead of fonts.googleapis.com
    )
    return _guarded(page)


@router.get(ASSETS + "/{path:path}")
async def asset(path: str, request: Request) -> Response:
    """A vendored file, or the favicon; Starlette's static files keep the lookup inside the folder."""
    response = await _FILES.serve(path, request.scope)
    if not PurePosixPath(path).suffix:  # LICENSE, NOTICE: text to read, not a download
        response.headers["content-type"] = "text/plain; charset=utf-8"
    return response


def _root(request: Request) -> str:
    """The prefix a proxy mounted the app under (``--root-path``), as FastAPI's own pages honour it."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _guarded(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(_PAGE_HEADERS)
    return page
