"""How the protocol's endpoints appear in the OpenAPI document.

``infer`` reads its body itself (a JSON header possibly followed by raw bytes), so FastAPI cannot
derive the request body's schema; :func:`infer_body` writes it, with examples.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from . import examples
from .framing import HEADER_LENGTH
from .schemas import ErrorResponse, InferRequest, InferResponse

_OCTETS = {"schema": {"type": "string", "format": "binary"}}


def errors(*codes: int) -> dict[int | str, Any]:
    """Documented error answers in the protocol's flat shape, each with an example; and ``4XX``, any
    other client error in the same shape. Without a 4XX (or a 422) FastAPI documents its own 422 of
    ``HTTPValidationError`` on every operation with parameters: a status and a shape /v2 never answers
    (its refusals are 400s, :func:`service.errors.oip_status`)."""
    documented: dict[int | str, tuple[str, str]] = {code: examples.ERRORS[code] for code in codes}
    documented["4XX"] = examples.OTHER_CLIENT_ERROR
    return {
        code: {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": {"error": message}}},
        }
        for code, (description, message) in documented.items()
    }


def infer_answer() -> dict[int | str, Any]:
    """The infer operations' 200: JSON, or JSON and raw bytes."""
    description = (
        f"JSON; or, when an output is sent as bytes, the JSON header ({HEADER_LENGTH} bytes "
        "long) followed by the outputs' raw bytes"
    )
    content = {"application/json": {"example": examples.INFER_RESPONSE}, "application/octet-stream": _OCTETS}
    return {200: {"model": InferResponse, "description": description, "content": content}}


def infer_body() -> dict[str, Any]:
    """``openapi_extra`` for the infer operations: the request body's schema and examples."""
    body_examples = {
        "json": {
            "summary": "two 2-D inputs as flat FP32 data, tighter tolerances, three outputs",
            "value": examples.INFER_REQUEST,
        },
        "nested": {"summary": "nested FP64 data; every output", "value": examples.INFER_NESTED_REQUEST},
        "fixed_step": {
            "summary": "a fixed-step method; the top class (classification extension)",
            "value": examples.INFER_FIXED_STEP_REQUEST,
        },
        "trajectory": {"summary": "z(t) at chosen times", "value": examples.INFER_TRAJECTORY_REQUEST},
    }
    return {
        "requestBody": {
            "required": True,
            "description": f"JSON; or a JSON header ({HEADER_LENGTH} bytes long) followed by each input's "
            "raw little-endian bytes (binary tensor data extension, e.g. "
            f"{examples.INFER_BINARY_REQUEST}); gzip or deflate with Content-Encoding",
            "content": {
                "application/json": {"schema": inline_schema(InferRequest), "examples": body_examples},
                "application/octet-stream": _OCTETS,
            },
        }
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` written in place (an operation cannot point into them)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        return [resolve(item) for item in node] if isinstance(node, list) else node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
