"""Request ids and one access-log record per request, from a pure ASGI middleware.

Every request gets an id: the client's ``X-Request-ID`` when it is 1-128 visible ASCII characters,
else 32 fresh random hex digits (128 random bits); the answer carries it back in the same header.
Once the answer is sent, one record on the ``service.access`` logger says what happened: request
id, method, route template (never the raw path), status, model, version, NFE summed over the
request's samples, and latency. While the request runs, its record (:mod:`service.telemetry.request_context`)
names it for every other log record and collects the solver's work.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.telemetry.labels import route_template, served_by
from service.telemetry.request_context import RequestRecord, close_request, open_request

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_STATE = "odeserve_request_id"
"""Where the id also lives in ``request.state`` (for handlers that run outside this middleware)."""
_VALID_ID = re.compile(r"[\x21-\x7e]{1,128}")

access_log = logging.getLogger("service.access")


def accept_request_id(given: str | None) -> str:
    """The client's id if it is safe to echo and log, else a new one."""
    if given is not None and _VALID_ID.fullmatch(given):
        return given
    return os.urandom(16).hex()  # uuid4().hex costs 5x more for the same kind of id (hot path)


class RequestLogMiddleware:
    """Assigns the request id, returns it in ``X-Request-ID``, logs one record per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request, token = open_request(accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)))
        scope.setdefault("state", {})[REQUEST_ID_STATE] = request.request_id
        status = 500  # what the client sees if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request.request_id
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log(scope, request, status, time.perf_counter() - started)
            close_request(token)


def _log(scope: Scope, request: RequestRecord, status: int, seconds: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):  # e.g. --log-level warning: skip building the record
        return
    model, version = served_by(scope)
    endpoint = route_template(scope)
    fields = {
        "request_id": request.request_id,
        "method": scope["method"],
        "path": endpoint,
        "status": status,
        "model": model or None,
        "version": version or None,
        "nfe": request.nfe if request.samples else None,
        "samples": request.samples or None,
        "latency_ms": round(seconds * 1000, 3),
    }
    served = f" {model}/{version}" if model else ""
    nfe = f" nfe={request.nfe}" if request.samples else ""
    access_log.info(
        "%s %s %d%s%s %.1f ms request_id=%s",
        scope["method"],
        endpoint,
        status,
        served,
        nfe,
        seconds * 1000,
        request.request_id,
        extra={"fields": fields},
    )
