"""The binary tensor data extension: a body is a JSON header, then raw tensor bytes.

``Inference-Header-Content-Length`` says how long the JSON header is; each input that carries
``parameters.binary_data_size`` has that many bytes after it, in the order of ``inputs``. Answers
are framed the same way whenever an output is sent as bytes. Triton's client does this by
default, and may compress the request body (``Content-Encoding: gzip`` or ``deflate``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from service.errors import BadRequest, PayloadTooLarge

from .schemas import InferRequest

HEADER_LENGTH = "Inference-Header-Content-Length"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def parse_request(
    body: bytes, headers: Mapping[str, str], max_bytes: int
) -> tuple[InferRequest, list[bytes | None]]:
    """The validated JSON header, and each input's raw bytes (None: its values are in the JSON)."""
    body = _decompressed(body, headers.get("content-encoding", "identity").lower(), max_bytes)
    header, tail = _split(body, headers.get(HEADER_LENGTH))
    try:
        request = InferRequest.model_validate_json(header)
    except ValidationError as exc:  # answered like any invalid body (one message builder, in the app)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return request, _input_bytes(request, tail)


def framed_response(header: bytes, blobs: list[bytes]) -> Response:
    """Plain JSON when nothing is sent as bytes; else the header, the bytes, and the header's length."""
    if not blobs:
        return Response(header, media_type="application/json")
    return Response(
        header + b"".join(blobs),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(header))},
    )


def _decompressed(body: bytes, encoding: str, max_bytes: int) -> bytes:
    if encoding == "identity":
        return body
    if encoding not in _WBITS:
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported: send gzip, deflate or none")
    inflater = zlib.decompressobj(_WBITS[encoding])
    try:
        out = inflater.decompress(body, max_bytes + 1)  # bounded: a small bomb cannot fill memory
    except zlib.error as exc:
        raise BadRequest(f"the body is not valid {encoding}: {exc}") from None
    if len(out) > max_bytes:
        raise PayloadTooLarge(
            f"the decompressed request body is larger than this server's limit of {max_bytes} bytes",
            {"max_body_bytes": max_bytes},
        )
    return out


def _split(body: bytes, declared: str | None) -> tuple[bytes, bytes]:
    if declared is None:
        return body, b""
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(f"the {HEADER_LENGTH} header is not a number") from None
    if not 0 < length <= len(body):
        raise BadRequest(f"the {HEADER_LENGTH} header says {length} bytes; the body has {len(body)}")
    return body[:length], body[length:]


def _input_bytes(request: InferRequest, tail: bytes) -> list[bytes | None]:
    out: list[bytes | None] = []
    offset = 0
    for tensor in request.inputs:
        size = tensor.parameters.binary_data_size if tensor.parameters else None
        if size is not None and offset + size > len(tail):
            raise BadRequest(
                f"input {tensor.name!r} declares binary_data_size {size} but only "
                f"{len(tail) - offset} bytes follow the JSON header (is {HEADER_LENGTH} set?)"
            )
        out.append(None if size is None else tail[offset : offset + size])
        offset += size or 0
    if offset != len(tail):
        raise BadRequest(
            f"{len(tail) - offset} bytes follow the JSON header that no input's binary_data_size accounts for"
        )
    return out
