"""The single place where routes hand work to the engine.

Solves are synchronous CPU work, so they run in worker threads (at most ``inference_threads`` at
once) and the event loop stays free. A dynamic batcher replaces this class behind the same two
coroutines.
"""

from __future__ import annotations

import anyio
import numpy as np

from service.engine import Prediction, SolverConfig, Trajectory

from .loading import LoadedVersion


class Executor:
    """Runs a loaded version's solves off the event loop."""

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)

    async def predict(self, loaded: LoadedVersion, inputs: np.ndarray, cfg: SolverConfig) -> Prediction:
        return await anyio.to_thread.run_sync(loaded.runner.predict, inputs, cfg, limiter=self._limiter)

    async def trajectory(self, loaded: LoadedVersion, inputs: np.ndarray, times: np.ndarray,
                         cfg: SolverConfig) -> Trajectory:
        return await anyio.to_thread.run_sync(loaded.runner.trajectory, inputs, times, cfg,
                                              limiter=self._limiter)
