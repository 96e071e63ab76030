"""What is known about the request being handled, in a context variable.

The access-log middleware opens the record (:func:`open_request`); anything that runs inside the
request may read its id (:func:`current_request_id`, for log records) or add the solver's work
(:func:`note_nfe`, from the executor), without being handed the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass
class RequestRecord:
    """What is known about the request being handled (one per request, in a context variable)."""

    request_id: str
    nfe: int = 0
    samples: int = 0


_current: ContextVar[RequestRecord | None] = ContextVar("odeserve_request", default=None)


def current_request_id() -> str | None:
    request = _current.get()
    return request.request_id if request is not None else None


def note_nfe(nfe: Sequence[int]) -> None:
    """Add a solve's per-sample NFE to the request being handled (nothing outside a request)."""
    request = _current.get()
    if request is not None:
        request.nfe += int(sum(nfe))
        request.samples += len(nfe)


def open_request(request_id: str) -> tuple[RequestRecord, Token[RequestRecord | None]]:
    """Start the record of a request; pass the token to :func:`close_request` when it is answered."""
    record = RequestRecord(request_id)
    return record, _current.set(record)


def close_request(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)
