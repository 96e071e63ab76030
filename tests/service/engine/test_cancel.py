"""Bounded work: max_steps caps a hard solve, and a cancelled token stops a running one (torch and
ONNX Runtime), in the backends, the trajectory path and the dynamic batcher."""

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from service.engine import ModelRunner, SolverConfig
from service.engine.cancel import Cancelled, CancelToken
from service.engine.config import SampleSettings
from service.engine.solve import solve_samples
from service.scheduling.batcher import DynamicBatcher

LONG = SolverConfig("euler", 1e-6, 1e-6, 1e-7, 10_000_000)  # ten million steps: minutes of work
QUICK = SolverConfig("dopri5", 1e-4, 1e-4, 0.05, 1000)


@pytest.fixture(scope="module", params=["torch", "onnxruntime"])
def runner(request, tiny, tiny_onnx) -> ModelRunner:
    return ModelRunner(*tiny, tiny_onnx, backend=request.param)


def _stiff(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dy/dt = -1e5 (y - cos t): at atol 1e-12 an explicit method needs a huge number of steps."""
    return -1e5 * (y - torch.cos(t).unsqueeze(1))


def test_max_steps_bounds_the_work_of_a_hard_input() -> None:
    y0 = torch.ones(4, 3, dtype=torch.float64)
    cfg = SolverConfig("dopri5", 1e-12, 1e-12, 0.05, 200)
    sol = solve_samples(_stiff, y0, (0.0, 1.0), "dopri5", SampleSettings.uniform(cfg, 4))
    assert sol.failed.all()
    assert ((sol.accepted + sol.rejected) == 200).all()
    assert (sol.nfe <= 6 * 200 + 2).all()  # dopri5: 6 new evaluations a step (FSAL) + 2 to start


def test_a_cancelled_token_stops_the_solve_mid_way(runner: ModelRunner) -> None:
    token = CancelToken()
    x = np.random.default_rng(0).normal(size=(8, 2))
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        runner.solve_batch(x, LONG.method, SampleSettings.uniform(LONG, 8), token)
    assert time.perf_counter() - started < 60  # liveness only: uncancelled, this runs for minutes
    timer.join()


def test_a_trajectory_stops_when_cancelled(runner: ModelRunner) -> None:
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        runner.trajectory(np.zeros((2, 2)), np.linspace(0, 1, 5), LONG, token)
    assert time.perf_counter() - started < 60  # liveness only: uncancelled, this runs for minutes


def test_an_already_cancelled_token_stops_at_once(runner: ModelRunner) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        runner.solve_batch(np.zeros((1, 2)), LONG.method, SampleSettings.uniform(LONG, 1), token)
    runner.solve_batch(np.zeros((1, 2)), QUICK.method, SampleSettings.uniform(QUICK, 1), CancelToken())


async def _abandon_then_ask(batcher: DynamicBatcher, runner: ModelRunner, trajectory: bool) -> float:
    """Give up on a long solve after 0.3 s, then time a quick prediction on the same solver thread."""
    if trajectory:

        def slow(token: CancelToken) -> object:
            return runner.trajectory(np.zeros((1, 2)), np.linspace(0, 1, 3), LONG, token)

        long_call = batcher.run(slow, 1)
    else:
        long_call = batcher.predict(runner, np.zeros((1, 2)), LONG)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(long_call, 0.3)
    started = time.perf_counter()
    await asyncio.wait_for(batcher.predict(runner, np.zeros((1, 2)), QUICK), 10)
    return time.perf_counter() - started


@pytest.mark.parametrize("trajectory", [False, True], ids=["predict", "trajectory"])
def test_the_batcher_stops_a_solve_nobody_waits_for(runner: ModelRunner, trajectory: bool) -> None:
    batcher = DynamicBatcher(max_batch_size=8)
    waited = asyncio.run(_abandon_then_ask(batcher, runner, trajectory))
    batcher.close()
    assert (
        waited < 60
    )  # liveness only: the abandoned solve (minutes of work) no longer holds the solver thread
    assert batcher.waiting == 0


def test_a_shared_batch_keeps_solving_while_one_caller_waits(runner: ModelRunner) -> None:
    async def scenario() -> object:
        batcher = DynamicBatcher(max_batch_size=8, max_delay_s=0.05)
        cfg = SolverConfig("euler", 1e-6, 1e-6, 1e-3, 10_000)  # 1000 steps: short
        gone = asyncio.ensure_future(batcher.predict(runner, np.zeros((1, 2)), cfg))
        stays = asyncio.ensure_future(batcher.predict(runner, np.ones((1, 2)), cfg))
        await asyncio.sleep(0.01)
        gone.cancel()
        answer = await stays
        batcher.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.answer.nfe == [1000]


def test_trajectories_count_against_the_queue(runner: ModelRunner) -> None:
    from service.scheduling.batcher import QueueFull

    batcher = DynamicBatcher(max_queue=4)
    with pytest.raises(QueueFull):
        asyncio.run(batcher.run(lambda token: None, 5))
    assert asyncio.run(batcher.run(lambda token: "ran", 4)) == "ran" and batcher.waiting == 0
    batcher.close()
