"""A pure ASGI middleware that refuses request bodies over a size limit with 413.

A declared Content-Length over the limit is refused before reading; a chunked body is read (up to
the limit) before the app sees it, so the app never holds more than ``max_bytes`` of one body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import BadRequest, PayloadTooLarge, ServiceError, error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_declared(scope)
            body = await read_body(receive, self.max_bytes)
        except ServiceError as exc:
            await error_response(exc, scope["path"])(scope, receive, send)
            return
        if body is not None:  # None: the client left before sending its whole body
            await self.app(scope, replay(body, receive), send)

    def _check_declared(self, scope: Scope) -> None:
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise BadRequest("the Content-Length header is not a number") from None
                if declared > self.max_bytes:
                    raise too_large(self.max_bytes)


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes | None:
    """The whole request body (None: the client left first); over ``max_bytes``: PayloadTooLarge."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than this server's limit of {max_bytes} bytes",
        {"max_body_bytes": max_bytes},
        headers={"Connection": "close"},
    )


def replay(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app once, then pass through (so disconnects are still seen)."""
    sent = False

    async def receive_body() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_body
