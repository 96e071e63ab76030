"""The single place where routes hand work to the engine.

Predictions go through the dynamic batcher (concurrent requests for one version and method
share a solve, each keeping its own settings); trajectories run on the batcher's solver thread,
so a worker process never has more than two solves (one on the event loop, one on that thread)
competing for the cores. Every solve is
recorded in the metrics and the request's log record here, once. A request not answered within
``timeout_s`` (queue wait and solve) is answered 504, and its solve is stopped if nobody else
shares it (a solve small enough to run on the event loop, see the batcher, is bounded by its
step budget instead).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np

from service.engine import Prediction, SolverConfig, Trajectory
from service.errors import DeadlineExceeded
from service.lifecycle.loading import LoadedVersion
from service.scheduling.batcher import DynamicBatcher
from service.telemetry.metrics import Metrics
from service.telemetry.request_context import note_nfe

P = ParamSpec("P")
R = TypeVar("R")


class Executor:
    """Runs a loaded version's solves off the event loop, batched where possible."""

    def __init__(self, batcher: DynamicBatcher, metrics: Metrics, timeout_s: float = 30.0) -> None:
        self.batcher, self.metrics, self.timeout_s = batcher, metrics, timeout_s

    async def predict(self, loaded: LoadedVersion, inputs: np.ndarray, cfg: SolverConfig) -> Prediction:
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self.batcher.predict(loaded.runner, inputs, cfg)
        except TimeoutError:
            raise self._late() from None
        self._observe(loaded, cfg, answer.prediction, answer.queue_wait_s, answer.batch_size)
        return answer.prediction

    async def trajectory(
        self, loaded: LoadedVersion, inputs: np.ndarray, times: np.ndarray, cfg: SolverConfig
    ) -> Trajectory:
        queued = time.perf_counter()
        solve = functools.partial(_timed(loaded.runner.trajectory), inputs, times, cfg)
        try:
            async with asyncio.timeout(self.timeout_s):
                started, traj = await self.batcher.run(solve, len(inputs))
        except TimeoutError:
            raise self._late() from None
        self._observe(loaded, cfg, traj.final, started - queued, len(inputs))
        return traj

    def _observe(
        self, loaded: LoadedVersion, cfg: SolverConfig, pred: Prediction, wait_s: float, batch_size: int
    ) -> None:
        self.metrics.observe_solve(
            loaded.name,
            str(loaded.version),
            cfg.method,
            pred.nfe,
            pred.accepted,
            pred.rejected,
            [wait_s],
            batch_size=batch_size,
        )
        note_nfe(pred.nfe)

    def _late(self) -> DeadlineExceeded:
        # (asyncio.timeout inline in each caller: an async context manager around it costs more
        # than the deadline itself on the predict hot path)
        return DeadlineExceeded(
            f"not answered within this server's request timeout of {self.timeout_s:g} s; send fewer "
            "inputs, loosen the tolerances (rtol/atol) or lower max_steps, or retry later if the "
            "server is busy",
            {"request_timeout_s": self.timeout_s},
        )

    def close(self) -> None:
        self.batcher.close()


def _timed(fn: Callable[P, R]) -> Callable[P, tuple[float, R]]:
    """Wrap ``fn`` to also return when it started (queue wait = start - enqueue)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> tuple[float, R]:
        return time.perf_counter(), fn(*args, **kwargs)

    return run
