"""What routes depend on, as ``Annotated`` aliases read from ``app.state`` (built by the lifespan)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from pydantic import SecretStr

from service.lifecycle.registry import Registry
from service.lifecycle.reload_signal import ReloadSignal
from service.scheduling.door import Door
from service.scheduling.executor import Executor

from .errors import Forbidden, Unauthorized
from .settings import Settings

API_KEY_HEADER = "X-API-Key"
REPORT_KEY_COOKIE = "odeserve_api_key"
"""Set by the explorer's script (SameSite=Strict, path /ui/models/) once the visitor gave the key,
so that a training report, a page of plain links and images, can be opened on a keyed server."""


@dataclass
class Runtime:
    """Everything the lifespan opens; one per app."""

    settings: Settings
    registry: Registry
    executor: Executor
    door: Door
    draining: bool = False
    reload_signal: ReloadSignal | None = None  # set with several workers (one replica's shared folder)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime  # set by the lifespan (app.state is untyped)
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_inference_key = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    auto_error=False,
    description="needed when the server sets ODESERVE_API_KEY",
)
_admin_key = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="AdminApiKey",
    auto_error=False,
    description="the server's ODESERVE_ADMIN_API_KEY",
)


_report_cookie = APIKeyCookie(name=REPORT_KEY_COOKIE, scheme_name="ApiKeyCookie", auto_error=False)


async def require_api_key(rt: RuntimeDep, given: Annotated[str | None, Security(_inference_key)]) -> None:
    check_api_key(rt.settings, given)


async def require_report_key(
    rt: RuntimeDep,
    header: Annotated[str | None, Security(_inference_key)],
    cookie: Annotated[str | None, Security(_report_cookie)],
) -> None:
    """Training reports (GET only): the key in the header, or in the explorer's cookie.

    Only these read-only pages take the cookie: a cookie rides along on requests other sites
    trigger, so nothing that solves, changes or lists anything accepts one (and SameSite=Strict
    keeps it off cross-site requests anyway)."""
    check_api_key(rt.settings, header if header else (unquote(cookie) if cookie else None))


def check_api_key(settings: Settings, given: str | None) -> None:
    """Inference and model routes: open unless the server sets an API key (also the fast path's check)."""
    if settings.api_key is not None:
        _check_key(settings.api_key, given)


async def require_admin_key(rt: RuntimeDep, given: Annotated[str | None, Security(_admin_key)]) -> None:
    """Admin routes: disabled unless the server sets an admin key, then that key is required."""
    if rt.settings.admin_api_key is None:
        raise Forbidden("admin endpoints are disabled: start the server with ODESERVE_ADMIN_API_KEY set")
    _check_key(rt.settings.admin_api_key, given)


def _check_key(expected: SecretStr, given: str | None) -> None:
    if not given:
        raise Unauthorized(
            f"this endpoint needs an API key in the {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": f"ApiKey header={API_KEY_HEADER}"},
        )
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise Forbidden("the API key is not valid")
