"""The single place where routes hand work to the engine.

Predictions and trajectories go through the dynamic batcher (concurrent requests for one version
and method, and for trajectories the same times, share a solve, each keeping its own settings);
a worker process never has more than two solves (one on the event loop, one on the batcher's
solver thread) competing for the cores. Every solve is
recorded in the metrics and the request's log record here, once. A request not answered within
``timeout_s`` (queue wait and solve) is answered 504, and its solve is stopped if nobody else
shares it (a solve small enough to run on the event loop, see the batcher, is bounded by its
step budget instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from service.engine import Prediction, SolverConfig, StepLimitExceeded, Trajectory
from service.errors import DeadlineExceeded
from service.lifecycle.loading import LoadedVersion
from service.scheduling.batcher import DynamicBatcher
from service.telemetry.metrics import Metrics
from service.telemetry.request_context import note_nfe

R = TypeVar("R")


class Executor:
    """Runs a loaded version's solves off the event loop, batched where possible."""

    def __init__(self, batcher: DynamicBatcher, metrics: Metrics, timeout_s: float = 30.0) -> None:
        self.batcher, self.metrics, self.timeout_s = batcher, metrics, timeout_s

    async def predict(
        self,
        loaded: LoadedVersion,
        inputs: np.ndarray,
        cfg: SolverConfig,
        part: int | None = None,
        traffic: bool = True,
    ) -> Prediction:
        """``part``: solve at most that many samples at a time, one part after another (a grid of
        thousands of points), so other requests' samples join the parts' batches instead of waiting
        behind the whole, and no part outgrows the batcher's queue; one deadline covers them all.
        ``traffic=False``: the samples are not served inputs (see Metrics.observe_solve)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                if part is None or len(inputs) <= part:
                    return await self._batched(loaded, inputs, cfg, 0, traffic)
                starts = range(0, len(inputs), part)
                return Prediction.join(
                    [await self._batched(loaded, inputs[s : s + part], cfg, s, traffic) for s in starts]
                )
        except TimeoutError:
            raise self._late() from None

    async def _batched(
        self, loaded: LoadedVersion, inputs: np.ndarray, cfg: SolverConfig, offset: int, traffic: bool
    ) -> Prediction:
        """One batcher job; a step-limit failure names its samples by their place in the whole request."""
        try:
            answer = await self.batcher.predict(loaded.runner, inputs, cfg)
        except StepLimitExceeded as exc:
            if not offset:
                raise
            raise StepLimitExceeded([offset + i for i in exc.samples], exc.max_steps) from None
        self._observe(loaded, cfg, answer.answer, answer.queue_wait_s, answer.batch_size, traffic)
        return answer.answer

    async def trajectory(
        self, loaded: LoadedVersion, inputs: np.ndarray, times: np.ndarray, cfg: SolverConfig
    ) -> Trajectory:
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self.batcher.trajectory(loaded.runner, inputs, times, cfg)
        except TimeoutError:
            raise self._late() from None
        self._observe(loaded, cfg, answer.answer.final, answer.queue_wait_s, answer.batch_size)
        return answer.answer

    async def evaluate(self, work: Callable[[], R], samples: int) -> R:
        """Other work on a version's network (its vector field over a plane) on the solver thread,
        after what is queued there, counted as ``samples`` waiting and under the same deadline."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.batcher.run(lambda _cancel: work(), samples)
        except TimeoutError:
            raise self._late() from None

    def _observe(
        self,
        loaded: LoadedVersion,
        cfg: SolverConfig,
        pred: Prediction,
        wait_s: float,
        batch_size: int,
        traffic: bool = True,
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
            traffic=traffic,
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
