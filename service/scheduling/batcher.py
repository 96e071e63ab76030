"""Dynamic batching: concurrent requests for the same model version and method share one solve.

Each request keeps its own tolerances and budget (per-sample settings), so batching changes
nothing in any answer, only the cost. A lane per (runner, method) collects what arrived while
the previous batch was solving (plus up to ``max_delay_s`` more when it is idle), up to
``max_batch_size`` samples. A batch whose solve is a compiled graph and whose samples may take
at most ``inline_max_steps`` steps each runs on the event loop itself: at a few hundred
microseconds, handing it to a thread and back (futures, wake-ups, the GIL changing hands) costs
more than it saves (benchmarks/README.md has the figures). Other solves run on
one dedicated thread so the event loop stays free and 2 cores are not oversubscribed (at most
two solves at once: one on the loop, one on the thread). When ``max_queue`` samples wait, new
requests wait in line for room (a :class:`~service.scheduling.door.Door`) for up to
``admission_wait_s``, then are refused with :class:`QueueFull` (the API answers 503 with
Retry-After); trajectories count too. A batch whose callers all stopped waiting (deadline, disconnect) is not
solved, or is stopped mid-solve through a :class:`~service.engine.CancelToken`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from service.engine import (
    CancelToken,
    ModelRunner,
    Prediction,
    SampleSettings,
    Solution,
    SolverConfig,
    StepLimitExceeded,
    Trajectory,
    check_budget,
)

from .door import Door

T = TypeVar("T")
A = TypeVar("A", Prediction, Trajectory)


class QueueFull(Exception):
    """Too much work is waiting; the caller should retry after ``retry_after_s`` (the API: 503)."""

    def __init__(self, waiting: int, retry_after_s: float, what: str = "samples") -> None:
        super().__init__(f"the server is at capacity ({waiting} {what} waiting); retry shortly")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Batched(Generic[A]):
    """A request's answer (a prediction, or a trajectory), with how it was batched (for metrics)."""

    answer: A
    batch_size: int
    queue_wait_s: float


@dataclass
class _Job:
    inputs: np.ndarray
    config: SolverConfig
    future: asyncio.Future[Any]  # Batched[Prediction], or Batched[Trajectory] in a lane with times
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class _Lane:
    runner: ModelRunner
    method: str
    times: np.ndarray | None  # trajectories: the times every job of the lane asked for
    queue: asyncio.Queue[_Job] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class DynamicBatcher:
    """Groups concurrent predictions by (model version, method) into per-sample-settings batches."""

    def __init__(
        self,
        *,
        max_batch_size: int = 64,
        max_delay_s: float = 0.0,
        max_queue: int = 4096,
        inline_max_steps: int = 0,
        admission_wait_s: float = 0.0,
    ) -> None:
        self.max_batch_size, self.max_delay_s, self.max_queue = max_batch_size, max_delay_s, max_queue
        self.inline_max_steps = inline_max_steps
        self._lanes: dict[Hashable, _Lane] = {}
        self._queue = Door(max_queue, admission_wait_s)  # counts samples waiting to be solved
        self._solver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="odeserve-solver")
        self._last_batch_s = 0.01

    @property
    def waiting(self) -> int:
        """Samples queued and not yet being solved."""
        return self._queue.inside

    async def predict(
        self, runner: ModelRunner, inputs: np.ndarray, config: SolverConfig
    ) -> Batched[Prediction]:
        """Queue a request and wait for its share of a batch."""
        answer: Batched[Prediction] = await self._submit(runner, inputs, config, None)
        return answer

    async def trajectory(
        self, runner: ModelRunner, inputs: np.ndarray, times: np.ndarray, config: SolverConfig
    ) -> Batched[Trajectory]:
        """Queue a trajectory request; concurrent ones for the same version, method and ``times``
        share one solve with dense output, as predictions share theirs."""
        answer: Batched[Trajectory] = await self._submit(runner, inputs, config, times)
        return answer

    async def _submit(
        self, runner: ModelRunner, inputs: np.ndarray, config: SolverConfig, times: np.ndarray | None
    ) -> Any:
        check_budget(config, runner.interval, len(inputs))
        samples = len(inputs)
        if not self._queue.try_enter(samples) and not await self._queue.enter(samples):
            raise self._full()
        lane_of: tuple[Hashable, ...] = (id(runner), config.method) if config.native else (id(runner), config)
        key = lane_of if times is None else (*lane_of, times.tobytes())
        lane = self._lanes.get(key)
        if lane is None or lane.runner is not runner:
            lane = self._lanes[key] = _Lane(runner, config.method, times)
        job = _Job(inputs, config, asyncio.get_running_loop().create_future())
        lane.queue.put_nowait(job)
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._drain(key, lane))
        return await job.future

    def _full(self) -> QueueFull:
        return QueueFull(self.waiting, retry_after_s=max(1.0, self._last_batch_s))

    async def _drain(self, key: Hashable, lane: _Lane) -> None:
        """Solve batches until the lane is empty, then retire it."""
        while not lane.queue.empty():
            jobs = await self._collect(lane)
            await self._run(lane, jobs)
        if self._lanes.get(key) is lane:
            del self._lanes[key]

    async def _collect(self, lane: _Lane) -> list[_Job]:
        jobs = [lane.queue.get_nowait()]
        size = len(jobs[0].inputs)
        deadline = time.perf_counter() + self.max_delay_s
        while size < self.max_batch_size:
            if lane.queue.empty():
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(lane.queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                job = lane.queue.get_nowait()
            jobs.append(job)
            size += len(job.inputs)
        return jobs

    async def _run(self, lane: _Lane, jobs: list[_Job]) -> None:
        """Solve one batch; its samples count as waiting until the solver thread takes it up."""
        queued = sum(len(j.inputs) for j in jobs)
        jobs = [j for j in jobs if not j.future.done()]  # callers that gave up are not solved for
        if not jobs:
            self._release(queued)
            return
        sizes = [len(j.inputs) for j in jobs]
        inputs = np.concatenate([j.inputs for j in jobs]) if len(jobs) > 1 else jobs[0].inputs
        settings = SampleSettings.stack([(j.config, n) for j, n in zip(jobs, sizes, strict=True)])
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            if self._inline(lane, max(j.config.max_steps for j in jobs), len(inputs)):
                self._release(queued)
                sol, probs = lane.runner.solve_batch(inputs, lane.method, settings, None, lane.times)
            else:
                cancel = _cancel_when_all_done(jobs)

                def solve() -> tuple[Solution, np.ndarray]:
                    # on the solver thread: these samples no longer wait
                    loop.call_soon_threadsafe(self._release, queued)
                    return lane.runner.solve_batch(inputs, lane.method, settings, cancel, lane.times)

                sol, probs = await loop.run_in_executor(self._solver, solve)
        except Exception as exc:  # the solve failed for the whole batch: every request hears why
            for job in jobs:
                _settle(job, exc)
            return
        self._last_batch_s = time.perf_counter() - started
        failed = sol.failed
        native = jobs[0].config.native  # one method per lane
        answers: list[Prediction] | list[Trajectory] = (
            Prediction.split(probs, sol, sizes, native)
            if lane.times is None
            else lane.runner.trajectories(sol, probs, lane.times, sizes, native)
        )
        offset = 0
        for job, n, answer in zip(jobs, sizes, answers, strict=True):
            rows = failed[offset : offset + n]
            offset += n
            if rows.any():
                _settle(job, StepLimitExceeded(np.flatnonzero(rows).tolist(), job.config.max_steps))
            else:
                _settle(job, Batched(answer, sum(sizes), started - job.enqueued))

    def _inline(self, lane: _Lane, max_steps: int, samples: int) -> bool:
        """Whether this batch is cheap enough to solve on the event loop (bounded: no deadline needed)."""
        return 0 < max_steps <= self.inline_max_steps and lane.runner.backend.runs_inline(
            lane.method, samples
        )

    def _release(self, samples: int) -> None:
        self._queue.leave(samples)

    async def run(self, fn: Callable[[CancelToken], T], samples: int) -> T:
        """Run other solver work (``samples`` inputs' worth) on the solver thread, after what
        is queued there. Its samples count as waiting until it ends; if the caller stops waiting,
        ``fn``'s token is cancelled (or ``fn`` never starts).
        """
        if not await self._queue.enter(samples):
            raise self._full()
        cancel = CancelToken()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._solver, fn, cancel)
        except asyncio.CancelledError:
            cancel.cancel()
            raise
        finally:
            self._release(samples)

    def close(self) -> None:
        """Stop the lanes and the solver thread (pending requests are cancelled)."""
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
        self._lanes.clear()
        self._solver.shutdown(wait=False, cancel_futures=True)


def _cancel_when_all_done(jobs: list[_Job]) -> CancelToken:
    """A token cancelled once every job's future is done: answered, or abandoned by its caller."""
    cancel = CancelToken()
    pending = len(jobs)

    def one_done(_: asyncio.Future[Any]) -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            cancel.cancel()

    for job in jobs:
        job.future.add_done_callback(one_done)
    return cancel


def _settle(job: _Job, outcome: Batched[Any] | Exception) -> None:
    if job.future.done():  # the caller went away
        return
    if isinstance(outcome, Exception):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)
