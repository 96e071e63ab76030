"""POST .../predict and .../trajectory without FastAPI's per-request machinery: the hot paths.

For a one-point predict, FastAPI's router (a regex per route until one matches), its dependency
graph and its body validation cost the event loop as much time as our whole ODE solve (figures
in benchmarks/README.md); a short trajectory is no dearer to solve. This pure ASGI layer, the
innermost middleware, answers the predict and trajectory routes itself, built from the same parts
as the FastAPI routes, so nothing else changes:

- matching: the routes' own ``matches``, handed over by the app factory (same paths;
  ``scope["route"]`` is set, so
  metrics and access logs label the request exactly as FastAPI would);
- the same API-key check, body models (``PredictRequest``, ``TrajectoryRequest``, validated
  straight from the JSON bytes; a body it accepts, FastAPI accepts with the same values), use
  case (:func:`~service.inference.predict_json`, :func:`~service.inference.trajectory_json`)
  and error mapper;
- anything off the happy path that FastAPI words itself (a body that is not JSON, fails
  validation, or comes without a JSON content type) is handed on to FastAPI with the body
  replayed, so those error answers are FastAPI's, byte for byte.

Every other request passes straight through. ``ODESERVE_FAST_PATH=false`` turns it off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import API_KEY_HEADER, Runtime, check_api_key
from service.errors import FOREIGN_ERRORS, ServiceError, error_response, from_foreign
from service.http.body_limit import read_body, replay
from service.inference import predict_json, trajectory_json
from service.schemas import PredictRequest, TrajectoryRequest

_Body = PredictRequest | TrajectoryRequest
_UseCase = Callable[[Runtime, Scope, str, str | None, _Body], Awaitable[str]]


async def _predict(rt: Runtime, scope: Scope, name: str, ref: str | None, body: _Body) -> str:
    return await predict_json(rt, scope, name, ref, body)


async def _trajectory(rt: Runtime, scope: Scope, name: str, ref: str | None, body: _Body) -> str:
    assert isinstance(body, TrajectoryRequest)
    return await trajectory_json(rt, scope, name, ref, body)


# path ending -> the body model and the use case that answers it
_ANSWERS: dict[str, tuple[type[_Body], _UseCase]] = {
    "/predict": (PredictRequest, _predict),
    "/trajectory": (TrajectoryRequest, _trajectory),
}


class SolveFastPath:
    """Answers POST /v1/models/{name}[/versions/{version}]/{predict,trajectory}; passes everything
    else on."""

    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            kind = _ANSWERS.get(scope["path"][scope["path"].rfind("/") :])
            if kind is not None:
                for route in self.routes:
                    match, child = route.matches(scope)
                    if match is Match.FULL:
                        await self._answer(scope, {**child, "route": route}, kind, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, child: Scope, kind: tuple[type[_Body], _UseCase], receive: Receive, send: Send
    ) -> None:
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        body = await read_body(receive)
        if body is None:  # the client left before sending its body
            return
        headers = Headers(scope=scope)
        model, use_case = kind
        request = _parse(model, headers.get("content-type"), body) if runtime is not None else None
        if runtime is None or request is None:
            await self.app(scope, replay(body, receive), send)
            return
        scope.update(child)
        params = child["path_params"]
        try:
            check_api_key(runtime.settings, headers.get(API_KEY_HEADER))
            answer = await use_case(runtime, scope, params["name"], params.get("version"), request)
            response = Response(answer, media_type="application/json")
        except ServiceError as exc:
            response = error_response(exc, scope["path"])
        except FOREIGN_ERRORS as exc:
            response = error_response(from_foreign(exc), scope["path"])
        await response(scope, receive, send)


def _parse(model: type[_Body], content_type: str | None, body: bytes) -> _Body | None:
    """The body as FastAPI would validate it, or None where FastAPI should word the problem."""
    if content_type is None or content_type.split(";", 1)[0].strip().lower() != "application/json":
        return None  # FastAPI refuses a body without a JSON content type (strict_content_type)
    try:  # pydantic's own JSON parser: one pass, no Python dicts in between (hot path)
        return model.model_validate_json(body)
    except ValidationError:  # not JSON, not UTF-8, or not a valid request: FastAPI says which
        return None
