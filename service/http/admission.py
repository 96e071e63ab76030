"""Refuse solve requests at the door while the solver queue is full.

Under a storm of requests (clients that ignore Retry-After), a refusal must cost almost
nothing: this pure ASGI middleware answers 503 + Retry-After before the body is read, parsed or
validated, leaving the event loop free for the requests already accepted. The batcher checks
the exact sample count again when a request is queued.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response, from_foreign
from service.scheduling.batcher import QueueFull

_SOLVE_ROUTES = ("/predict", "/trajectory", "/infer")


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith(_SOLVE_ROUTES):
            runtime = getattr(scope["app"].state, "runtime", None)
            try:
                if runtime is not None:
                    runtime.executor.batcher.admit()
            except QueueFull as exc:
                await error_response(from_foreign(exc), scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)
