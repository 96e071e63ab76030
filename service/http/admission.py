"""Solve requests pass a door: a bounded number inside, a short line, and 503s only past it.

Under a storm of requests (clients that ignore Retry-After), refusing at once whatever finds the
queue full makes refusals the worker's main work (see :mod:`service.scheduling.door`). So a solve
request enters when there is room; otherwise it waits in line, before its body is read, parsed or
validated, for up to ``ODESERVE_ADMISSION_WAIT_MS``, and only then gets 503 + Retry-After. Inside,
the batcher's own door does the same for its samples (``ODESERVE_MAX_QUEUE``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response, from_foreign
from service.scheduling.batcher import QueueFull

_SOLVE_ROUTES = ("/predict", "/trajectory", "/infer", "/grid", "/vector_field")


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = getattr(scope["app"].state, "runtime", None) if scope["type"] == "http" else None
        if runtime is None or scope["method"] != "POST" or not scope["path"].endswith(_SOLVE_ROUTES):
            await self.app(scope, receive, send)
            return
        door = runtime.door
        if not door.try_enter() and not await door.enter():
            refused = QueueFull(door.waiting, retry_after_s=1.0, what="requests")
            await error_response(from_foreign(refused), scope["path"])(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            door.leave()
