"""POST .../predict without FastAPI's per-request machinery: the hot path, same answers.

For a one-point predict, FastAPI's router (a regex per route until one matches), its dependency
graph and its body validation cost the event loop as much time as our whole ODE solve (figures
in benchmarks/README.md). This pure ASGI layer, the innermost middleware, answers the two predict
routes itself, built from the same parts as the FastAPI routes, so nothing else changes:

- matching: the predict routes' own ``matches``, handed over by the app factory (same paths;
  ``scope["route"]`` is set, so
  metrics and access logs label the request exactly as FastAPI would);
- the same API-key check, body model (``PredictRequest``, validated straight from the JSON
  bytes; a body it accepts, FastAPI accepts with the same values), engine call
  (:func:`~service.inference.predict_json`) and error mapper;
- anything off the happy path that FastAPI words itself (a body that is not JSON, fails
  validation, or comes without a JSON content type) is handed on to FastAPI with the body
  replayed, so those error answers are FastAPI's, byte for byte.

Every other request passes straight through. ``ODESERVE_FAST_PATH=false`` turns it off.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import API_KEY_HEADER, Runtime, check_api_key
from service.errors import FOREIGN_ERRORS, ServiceError, error_response, from_foreign
from service.http.body_limit import read_body, replay
from service.inference import predict_json
from service.schemas import PredictRequest


class PredictFastPath:
    """Answers POST /v1/models/{name}[/versions/{version}]/predict; passes everything else on."""

    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/predict"):
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    await self._answer(scope, {**child, "route": route}, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, child: Scope, receive: Receive, send: Send) -> None:
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        body = await read_body(receive)
        if body is None:  # the client left before sending its body
            return
        headers = Headers(scope=scope)
        request = _parse(headers.get("content-type"), body) if runtime is not None else None
        if runtime is None or request is None:
            await self.app(scope, replay(body, receive), send)
            return
        scope.update(child)
        params = child["path_params"]
        try:
            check_api_key(runtime.settings, headers.get(API_KEY_HEADER))
            answer = await predict_json(runtime, scope, params["name"], params.get("version"), request)
            response = Response(answer, media_type="application/json")
        except ServiceError as exc:
            response = error_response(exc, scope["path"])
        except FOREIGN_ERRORS as exc:
            response = error_response(from_foreign(exc), scope["path"])
        await response(scope, receive, send)


def _parse(content_type: str | None, body: bytes) -> PredictRequest | None:
    """The body as FastAPI would validate it, or None where FastAPI should word the problem."""
    if content_type is None or content_type.split(";", 1)[0].strip().lower() != "application/json":
        return None  # FastAPI refuses a body without a JSON content type (strict_content_type)
    try:  # pydantic's own JSON parser: one pass, no Python dicts in between (hot path)
        return PredictRequest.model_validate_json(body)
    except ValidationError:  # not JSON, not UTF-8, or not a valid request: FastAPI says which
        return None
