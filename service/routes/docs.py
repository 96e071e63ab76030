"""OpenAPI helpers: every answer documented with its model and an example."""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel

from service.schemas import ErrorBody, examples

_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    401: (
        "no API key sent",
        {"type": "unauthorized", "message": "this endpoint needs an API key in the X-API-Key header"},
    ),
    403: (
        "wrong API key, or admin endpoints disabled",
        {"type": "forbidden", "message": "the API key is not valid"},
    ),
    404: ("unknown model, version or alias", examples.ERROR["error"]),
    413: (
        "body over the server's limit",
        {
            "type": "payload_too_large",
            "message": "the request body is larger than this server's limit of 8388608 bytes",
        },
    ),
    422: (
        "the request does not fit the schema, the model or the server's limits",
        examples.VALIDATION_ERROR["error"],
    ),
    503: (
        "the version failed to load (the reason says why)",
        {
            "type": "version_unavailable",
            "message": "moons-node/2 is not served: weights.safetensors does "
            "not match its sha256 in the manifest",
        },
    ),
}


class RouteDoc(TypedDict):
    """The documentation keywords a route decorator is given (``@router.post(..., **doc)``)."""

    response_model: type[BaseModel]
    responses: dict[int | str, Any]


def ok(
    model: type[BaseModel], example: dict[str, Any], description: str = "Successful Response"
) -> dict[int | str, Any]:
    return {
        200: {
            "model": model,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    }


def errors(*codes: int) -> dict[int | str, Any]:
    """Documented error answers, each with an example of the ``{"error": ...}`` body."""
    out: dict[int | str, Any] = {}
    for code in codes:
        description, error = _ERRORS[code]
        body = {"error": {"details": None, **error}}
        out[code] = {
            "model": ErrorBody,
            "description": description,
            "content": {"application/json": {"example": body}},
        }
    return out
