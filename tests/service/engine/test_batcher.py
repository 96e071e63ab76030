"""Dynamic batching shares solves without changing any request's answer."""

import asyncio

import numpy as np
import pytest

from service.engine import ModelRunner, SolverConfig, StepLimitExceeded
from service.engine.batcher import DynamicBatcher, QueueFull


@pytest.fixture(scope="module", params=["torch", "onnxruntime"])
def runner(request, tiny, tiny_onnx) -> ModelRunner:
    return ModelRunner(*tiny, tiny_onnx, backend=request.param)


def _cfg(tol: float, max_steps: int = 5000) -> SolverConfig:
    return SolverConfig("dopri5", tol, tol, 0.05, max_steps)


async def _burst(batcher: DynamicBatcher, runner: ModelRunner, jobs):
    return await asyncio.gather(*(batcher.predict(runner, x, cfg) for x, cfg in jobs), return_exceptions=True)


def test_concurrent_requests_share_batches_and_keep_their_answers(runner) -> None:
    rng = np.random.default_rng(0)
    jobs = [(rng.normal(size=(int(rng.integers(1, 5)), 2)) * 2, _cfg(tol)) for tol in [1e-3, 1e-5, 1e-7] * 10]
    batcher = DynamicBatcher(max_batch_size=32, max_delay_s=0.005)
    answers = asyncio.run(_burst(batcher, runner, jobs))
    batcher.close()
    assert max(a.batch_size for a in answers) > max(len(x) for x, _ in jobs)  # really batched
    for (x, cfg), answer in zip(jobs, answers):
        alone = runner.predict(x, cfg)
        assert answer.prediction.nfe == alone.nfe and answer.prediction.labels == alone.labels
        np.testing.assert_allclose(answer.prediction.probabilities, alone.probabilities, rtol=0, atol=1e-12)
        assert answer.queue_wait_s >= 0


def test_a_failing_request_does_not_fail_its_batchmates(runner) -> None:
    x = np.random.default_rng(1).normal(size=(2, 2))
    batcher = DynamicBatcher(max_batch_size=64, max_delay_s=0.01)
    good, bad = asyncio.run(_burst(batcher, runner, [(x, _cfg(1e-4)), (x, _cfg(1e-10, max_steps=2))]))
    batcher.close()
    assert isinstance(bad, StepLimitExceeded) and bad.samples == [0, 1]
    assert good.batch_size == 4 and len(good.prediction.labels) == 2


def test_full_queue_refuses_at_once_and_accepted_work_completes(runner) -> None:
    x = np.zeros((8, 2))
    batcher = DynamicBatcher(max_batch_size=8, max_delay_s=0.0, max_queue=16)
    outcomes = asyncio.run(_burst(batcher, runner, [(x, _cfg(1e-6))] * 6))
    batcher.close()
    refused = [o for o in outcomes if isinstance(o, QueueFull)]
    served = [o for o in outcomes if not isinstance(o, Exception)]
    assert refused and served and len(refused) + len(served) == 6
    assert all(o.retry_after_s >= 1 for o in refused)


def test_budget_checked_before_queueing(runner) -> None:
    batcher = DynamicBatcher()
    with pytest.raises(StepLimitExceeded):
        asyncio.run(batcher.predict(runner, np.zeros((1, 2)), SolverConfig("rk4", 1e-3, 1e-3, 0.001, 10)))
    assert batcher.waiting == 0
    batcher.close()
