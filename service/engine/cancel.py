"""Stopping a solve that nobody waits for any more (deadline passed, client gone).

A :class:`CancelToken` is handed down with the work; :meth:`CancelToken.cancel` may be called from
any thread. The solver loop checks it at every field evaluation, ONNX Runtime through
``RunOptions.terminate``; either way the solve ends with :class:`Cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from .exceptions import EngineError

F = TypeVar("F", bound=Callable[[Any, Any], Any])


class Cancelled(EngineError):
    """The solve was stopped before it finished."""

    def __init__(self) -> None:
        super().__init__("the solve was cancelled: nobody waits for its answer any more")


class CancelToken:
    """Set once, from any thread; the solve that holds it stops at its next check."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    @contextmanager
    def hook(self, on_cancel: Callable[[], None]) -> Iterator[None]:
        """Call ``on_cancel`` if the token is cancelled while the block runs (at once if it already is)."""
        with self._lock:
            self._hooks.append(on_cancel)
            already = self._event.is_set()
        if already:
            on_cancel()
        try:
            yield
        finally:
            with self._lock:
                self._hooks.remove(on_cancel)


def checked(field: F, token: CancelToken | None) -> F:
    """``field`` that raises Cancelled once ``token`` is cancelled (the solver loop calls it per stage;
    torch's field or numpy's alike)."""
    if token is None:
        return field

    def field_or_stop(t: Any, y: Any) -> Any:
        token.check()
        return field(t, y)

    return cast(F, field_or_stop)
