"""The metrics middleware: every HTTP request counted, timed and tracked as in flight."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.telemetry.labels import route_template, served_by
from service.telemetry.metrics import Metrics


class MetricsMiddleware:
    """ASGI middleware: counts, times and tracks every HTTP request as in flight.

    ``endpoint`` is the matched route's path template; ``model``/``version`` are what the route
    declared with :func:`label_served`, else "". An exception escaping the app counts as a 500.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        with self.metrics.track_in_flight():
            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                seconds = time.perf_counter() - started
                model, version = served_by(scope)
                self.metrics.observe_request(model, version, route_template(scope), status, seconds)
