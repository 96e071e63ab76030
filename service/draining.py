"""Graceful stop. On SIGTERM the worker first turns not-ready (``/readyz`` 503, ``draining: true``)
for ``drain_grace_s``, so a load balancer stops sending it work, and only then hands the signal to
uvicorn, which stops accepting, waits for the requests in flight (each ends by its deadline) and
runs the lifespan's shutdown after them. A second SIGTERM skips what is left of the grace.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .deps import Runtime

log = logging.getLogger(__name__)

SignalHandler = Callable[[int, FrameType | None], Any]


class DrainOnSigterm:
    """Wraps the server's SIGTERM handler (uvicorn's) for one worker process."""

    def __init__(self, runtime: Runtime, grace_s: float) -> None:
        self.runtime, self.grace_s = runtime, grace_s
        self._server_handler: SignalHandler | None = None

    def install(self) -> None:
        """Take over SIGTERM, if this is a process's main thread under a server that handles it."""
        if threading.current_thread() is not threading.main_thread():
            return  # an app served from a thread (tests): no signals here
        handler = signal.getsignal(signal.SIGTERM)
        if not callable(handler):
            return
        self._server_handler = handler
        self._loop = asyncio.get_running_loop()
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        if self._server_handler is not None and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._server_handler)

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        assert self._server_handler is not None
        if self.runtime.draining:
            self._server_handler(sig, frame)
            return
        self.runtime.draining = True
        log.info(
            "SIGTERM: not ready from now on; closing the listener in %g s, then finishing the "
            "requests in flight",
            self.grace_s,
        )
        self._loop.call_soon_threadsafe(self._loop.call_later, self.grace_s, self._stop, sig, frame)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        assert self._server_handler is not None
        self._server_handler(sig, frame)
