"""The single place where routes hand work to the engine.

Predictions go through the dynamic batcher (concurrent requests for one version and method
share a solve, each keeping its own settings); trajectories run on the same solver thread, so
one worker process never has more than one solve competing for the cores. Every solve is
recorded in the metrics and the request's log record here, once. A request not answered within
``timeout_s`` (queue wait and solve) is answered 504, and its solve is stopped if nobody else
shares it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

import numpy as np

from service.engine import Prediction, SolverConfig, Trajectory
from service.engine.batcher import DynamicBatcher

from .errors import DeadlineExceeded
from .loading import LoadedVersion
from .metrics import Metrics
from .request_log import note_nfe

P = ParamSpec("P")
R = TypeVar("R")


class Executor:
    """Runs a loaded version's solves off the event loop, batched where possible."""

    def __init__(self, batcher: DynamicBatcher, metrics: Metrics, timeout_s: float = 30.0) -> None:
        self.batcher, self.metrics, self.timeout_s = batcher, metrics, timeout_s

    async def predict(self, loaded: LoadedVersion, inputs: np.ndarray, cfg: SolverConfig) -> Prediction:
        async with self._deadline():
            answer = await self.batcher.predict(loaded.runner, inputs, cfg)
        self._observe(loaded, cfg, answer.prediction, answer.queue_wait_s, answer.batch_size)
        return answer.prediction

    async def trajectory(self, loaded: LoadedVersion, inputs: np.ndarray, times: np.ndarray,
                         cfg: SolverConfig) -> Trajectory:
        queued = time.perf_counter()
        solve = functools.partial(_timed(loaded.runner.trajectory), inputs, times, cfg)
        async with self._deadline():
            started, traj = await self.batcher.run(solve, len(inputs))
        self._observe(loaded, cfg, traj.final, started - queued, len(inputs))
        return traj

    def _observe(self, loaded: LoadedVersion, cfg: SolverConfig, pred: Prediction, wait_s: float,
                 batch_size: int) -> None:
        self.metrics.observe_solve(loaded.name, str(loaded.version), cfg.method, pred.nfe, pred.accepted,
                                   pred.rejected, [wait_s], batch_size=batch_size)
        note_nfe(pred.nfe)

    @asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout_s):
                yield
        except TimeoutError:
            raise DeadlineExceeded(
                f"not answered within this server's request timeout of {self.timeout_s:g} s; send fewer "
                "inputs, loosen the tolerances (rtol/atol) or lower max_steps, or retry later if the "
                "server is busy", {"request_timeout_s": self.timeout_s}) from None

    def close(self) -> None:
        self.batcher.close()


def _timed(fn: Callable[P, R]) -> Callable[P, tuple[float, R]]:
    """Wrap ``fn`` to also return when it started (queue wait = start - enqueue)."""
    def run(*args: P.args, **kwargs: P.kwargs) -> tuple[float, R]:
        return time.perf_counter(), fn(*args, **kwargs)
    return run
