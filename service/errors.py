"""Errors the service answers with; each class carries its HTTP status and a stable ``type``.

    ServiceError                      500 internal_error (also the answer to anything unexpected)
    ├── InvalidRequest                422 invalid_request
    │   ├── RequestValidationFailed   422 validation_error      the body does not fit the schema
    │   ├── InputShapeError           422 input_shape           a sample's size does not fit the model
    │   ├── LimitExceeded             422 limit_exceeded        more than the server allows
    │   ├── UnknownSolverMethod       422 unknown_method        (engine UnknownMethod)
    │   ├── UnsupportedSolverMethod   422 unsupported_method    (engine RefusedMethod; says why)
    │   └── StepLimitReached          422 step_limit_exceeded   (engine StepLimitExceeded)
    ├── Unauthorized                  401 unauthorized          no API key sent
    ├── Forbidden                     403 forbidden             wrong API key, or admin disabled
    ├── NotFound                      404 not_found             no such route
    │   ├── ModelNotFound             404 model_not_found
    │   ├── VersionNotFound           404 version_not_found
    │   ├── AliasNotFound             404 alias_not_found
    │   └── InvalidName               404 invalid_name          (store InvalidName; never a path)
    ├── BadRequest                    400 bad_request           a body that cannot be read
    ├── MethodNotAllowed              405 method_not_allowed
    ├── PayloadTooLarge               413 payload_too_large
    ├── Unavailable                   503 unavailable
    │   ├── Overloaded                503 overloaded            the batch queue is full (Retry-After)
    │   ├── VersionUnavailable        503 version_unavailable   the version failed to load
    │   └── StoreUnavailable          503 store_unavailable     the store cannot be read (admin reload)
    └── DeadlineExceeded              504 deadline_exceeded     not answered within request_timeout_s

Every answer is ``{"error": {"type", "message", "details"}}``, except under ``/v2``, where the Open
Inference Protocol's clients (Triton, KServe) read a flat ``{"error": message}`` and a request that
cannot be served is a 400, as Triton and KServe answer it (every 422 above is a 400 there);
:func:`error_response` builds both, and :func:`from_foreign` turns the engine's and the store's errors
into this tree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

import models_store
from service.engine import EngineError, RefusedMethod, StepLimitExceeded, UnknownMethod
from service.scheduling.batcher import QueueFull

FOREIGN_ERRORS: tuple[type[Exception], ...] = (EngineError, models_store.StoreError, QueueFull)
"""What the engine, the store and the batcher raise; :func:`from_foreign` maps each into this tree."""

OIP_PREFIX = "/v2"
"""Where the Open Inference Protocol (KServe v2) lives; its errors are ``{"error": message}``."""


class ServiceError(Exception):
    """Base of every error the service answers with."""

    status: int = 500
    type: str = "internal_error"

    def __init__(self, message: str, details: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


class InvalidRequest(ServiceError):
    status, type = 422, "invalid_request"


class RequestValidationFailed(InvalidRequest):
    type = "validation_error"


class InputShapeError(InvalidRequest):
    type = "input_shape"


class LimitExceeded(InvalidRequest):
    type = "limit_exceeded"


class UnknownSolverMethod(InvalidRequest):
    type = "unknown_method"


class UnsupportedSolverMethod(InvalidRequest):
    """A method that exists and that we refuse: its own type, so a client can tell "you mistyped"
    from "pick another" and read the alternatives in ``details.instead``."""

    type = "unsupported_method"


class StepLimitReached(InvalidRequest):
    type = "step_limit_exceeded"


class Unauthorized(ServiceError):
    status, type = 401, "unauthorized"


class Forbidden(ServiceError):
    status, type = 403, "forbidden"


class NotFound(ServiceError):
    status, type = 404, "not_found"


class ModelNotFound(NotFound):
    type = "model_not_found"


class VersionNotFound(NotFound):
    type = "version_not_found"


class AliasNotFound(NotFound):
    type = "alias_not_found"


class InvalidName(NotFound):
    type = "invalid_name"


class MethodNotAllowed(ServiceError):
    status, type = 405, "method_not_allowed"


class PayloadTooLarge(ServiceError):
    status, type = 413, "payload_too_large"


class BadRequest(ServiceError):
    status, type = 400, "bad_request"


class Unavailable(ServiceError):
    status, type = 503, "unavailable"


class Overloaded(Unavailable):
    type = "overloaded"


class VersionUnavailable(Unavailable):
    type = "version_unavailable"


class StoreUnavailable(Unavailable):
    type = "store_unavailable"


class DeadlineExceeded(ServiceError):
    status, type = 504, "deadline_exceeded"


_BY_STATUS: dict[int, type[ServiceError]] = {
    cls.status: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, PayloadTooLarge, Unavailable)
}


def for_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> ServiceError:
    """The error for a plain HTTP status raised by the framework (404 route, 405 method, ...)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, headers=headers)
    err = ServiceError(message, headers=headers)
    err.status, err.type = status, _snake(status)
    return err


def from_foreign(exc: Exception) -> ServiceError:
    """The engine's and the store's errors, as service errors (the same message)."""
    if isinstance(exc, UnknownMethod):
        return UnknownSolverMethod(str(exc), {"method": exc.method, "known": list(exc.known)})
    if isinstance(exc, RefusedMethod):
        return UnsupportedSolverMethod(
            str(exc), {"method": exc.method, "reason": exc.reason, "instead": list(exc.instead)}
        )
    if isinstance(exc, QueueFull):
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return Overloaded(str(exc), {"retry_after_s": int(retry)}, headers={"Retry-After": retry})
    if isinstance(exc, StepLimitExceeded):
        return StepLimitReached(str(exc), {"inputs": exc.samples[:100], "max_steps": exc.max_steps})
    if isinstance(exc, models_store.InvalidName):
        return InvalidName(str(exc))
    if isinstance(exc, models_store.ModelNotFound):
        return ModelNotFound(str(exc))
    if isinstance(exc, models_store.VersionNotFound):
        return VersionNotFound(str(exc))
    return ServiceError("internal server error")


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's error list made JSON-safe and short (no URLs, inputs shown as short text)."""
    return [_clean_error(err) for err in errors]


def error_response(exc: ServiceError, path: str = "") -> JSONResponse:
    """The error as JSON; ``path`` (the request's) chooses the Open Inference Protocol's shape and status
    under /v2. Every error answer passes through here, so /v2 gets its 400s in one place and no route,
    middleware or fast path can answer a /v2 client with /v1's 422."""
    status = exc.status
    if path == OIP_PREFIX or path.startswith(OIP_PREFIX + "/"):
        body: dict[str, Any] = {"error": exc.message}
        status = oip_status(status)
    else:
        body = {"error": {"type": exc.type, "message": exc.message, "details": exc.details}}
    return JSONResponse(body, status_code=status, headers=exc.headers or None)


def oip_status(status: int) -> int:
    """The status a /v2 client gets: 400 for /v1's 422 (a request that cannot be served), else the same.

    The protocol's text answers a failed inference request with 400, and Triton and KServe do;
    their clients (and load balancers' rules written for them) expect it. /v1 keeps 422."""
    return 400 if status == 422 else status


def _clean_error(err: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": str(err.get("type", "")),
        "loc": [p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
        "msg": str(err.get("msg", "")),
    }
    if "input" in err and not isinstance(err["input"], (list, dict)):
        out["input"] = _short(err["input"])
    if err.get("ctx"):
        out["ctx"] = {str(k): _json_scalar(v) for k, v in err["ctx"].items()}
    return out


def _json_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _short(value)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snake(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"
