"""Dynamic batching shares solves without changing any request's answer."""

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from models_store import Manifest, OdeClassifier
from service.engine import ModelRunner, SolverConfig, StepLimitExceeded
from service.engine.backends import ORT_MAX_BATCH
from service.engine.cancel import CancelToken
from service.engine.config import SampleSettings
from service.engine.integrate import Solution
from service.scheduling.batcher import Batched, DynamicBatcher, QueueFull


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
    for (x, cfg), answer in zip(jobs, answers, strict=True):
        alone = runner.predict(x, cfg)
        assert answer.answer.nfe == alone.nfe and answer.answer.labels == alone.labels
        np.testing.assert_allclose(answer.answer.probabilities, alone.probabilities, rtol=0, atol=1e-12)
        assert answer.queue_wait_s >= 0


def test_concurrent_trajectories_with_the_same_times_share_a_solve(runner) -> None:
    """Trajectory requests batch like predictions (one dense-output solve for the same version,
    method and times), and each keeps the states, probabilities and counts it gets alone; other
    times make another lane."""
    rng = np.random.default_rng(2)
    times, other = np.linspace(0.0, 1.0, 7), np.array([0.25, 0.5, 1.0])
    asked = [
        (rng.normal(size=(int(rng.integers(1, 4)), 2)), _cfg(tol), t)
        for tol in [1e-3, 1e-6]
        for t in [times, other]
    ] * 4
    batcher = DynamicBatcher(max_batch_size=64, max_delay_s=0.005)

    async def burst() -> list[Batched]:
        return await asyncio.gather(*(batcher.trajectory(runner, x, t, cfg) for x, cfg, t in asked))

    answers = asyncio.run(burst())
    batcher.close()
    for (x, cfg, t), answer in zip(asked, answers, strict=True):
        shared = sum(len(x2) for x2, _, t2 in asked if t2 is t)
        assert answer.batch_size < shared + 1 and answer.batch_size > len(x)  # batched, by times only
        alone = runner.trajectory(x, t, cfg)
        got = answer.answer
        assert got.times == t.tolist() and got.states.shape == (len(t), len(x), alone.states.shape[2])
        assert got.final.nfe == alone.final.nfe and got.final.labels == alone.final.labels
        assert got.final.accepted == alone.final.accepted and got.final.rejected == alone.final.rejected
        np.testing.assert_allclose(got.states, alone.states, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.probabilities, alone.probabilities, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.final.probabilities, alone.final.probabilities, rtol=0, atol=1e-12)


def test_a_failing_request_does_not_fail_its_batchmates(runner) -> None:
    x = np.random.default_rng(1).normal(size=(2, 2))
    batcher = DynamicBatcher(max_batch_size=64, max_delay_s=0.01)
    good, bad = asyncio.run(_burst(batcher, runner, [(x, _cfg(1e-4)), (x, _cfg(1e-10, max_steps=2))]))
    batcher.close()
    assert isinstance(bad, StepLimitExceeded) and bad.samples == [0, 1]
    assert good.batch_size == 4 and len(good.answer.labels) == 2


def test_full_queue_refuses_at_once_and_accepted_work_completes(runner) -> None:
    x = np.zeros((8, 2))
    batcher = DynamicBatcher(max_batch_size=8, max_delay_s=0.0, max_queue=16)
    outcomes = asyncio.run(_burst(batcher, runner, [(x, _cfg(1e-6))] * 6))
    batcher.close()
    refused = [o for o in outcomes if isinstance(o, QueueFull)]
    served = [o for o in outcomes if not isinstance(o, Exception)]
    assert refused and served and len(refused) + len(served) == 6
    assert all(o.retry_after_s >= 1 for o in refused)


def test_with_a_line_a_burst_past_the_queue_waits_and_every_request_is_served(runner) -> None:
    x = np.zeros((8, 2))
    batcher = DynamicBatcher(max_batch_size=8, max_delay_s=0.0, max_queue=16, admission_wait_s=30)
    outcomes = asyncio.run(_burst(batcher, runner, [(x, _cfg(1e-6))] * 6))
    batcher.close()
    assert all(isinstance(o, Batched) for o in outcomes), outcomes
    assert max(o.batch_size for o in outcomes) <= 16 and batcher.waiting == 0


def test_budget_checked_before_queueing(runner) -> None:
    batcher = DynamicBatcher()
    with pytest.raises(StepLimitExceeded):
        asyncio.run(batcher.predict(runner, np.zeros((1, 2)), SolverConfig("rk4", 1e-3, 1e-3, 0.001, 10)))
    assert batcher.waiting == 0
    batcher.close()


class _ThreadSpy(ModelRunner):
    """A real runner that notes the thread each batch is solved on (our own class, spied on)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: list[str] = []

    def solve_batch(
        self,
        inputs: np.ndarray,
        method: str,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> tuple[Solution, np.ndarray]:
        self.threads.append(threading.current_thread().name)
        return super().solve_batch(inputs, method, settings, cancel, times)


@pytest.fixture(scope="module")
def spies(tiny: tuple[OdeClassifier, Manifest], tiny_onnx: bytes) -> dict[str, _ThreadSpy]:
    return {name: _ThreadSpy(*tiny, tiny_onnx, backend=name) for name in ("torch", "onnxruntime")}


async def _solved_on(
    batcher: DynamicBatcher, spy: _ThreadSpy, jobs: list[tuple[np.ndarray, SolverConfig]]
) -> tuple[str, list[Batched]]:
    """The event loop's thread, and the answers to ``jobs`` sent at once."""
    spy.threads.clear()
    answers = await asyncio.gather(*(batcher.predict(spy, x, cfg) for x, cfg in jobs))
    return threading.current_thread().name, answers


def _check_answers(
    spy: _ThreadSpy, jobs: list[tuple[np.ndarray, SolverConfig]], answers: list[Batched]
) -> None:
    for (x, cfg), answer in zip(jobs, answers, strict=True):
        alone = spy.predict(x, cfg)
        assert answer.answer.nfe == alone.nfe and answer.answer.labels == alone.labels
        np.testing.assert_allclose(answer.answer.probabilities, alone.probabilities, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "backend, inline_max_steps, method, max_steps, samples, inline",
    [
        ("onnxruntime", 1000, "dopri5", 1000, 1, True),  # the budget may equal the limit
        ("onnxruntime", 1000, "rk4", 20, ORT_MAX_BATCH, True),  # fixed steps, the largest graph batch
        ("onnxruntime", 1000, "dopri5", 1001, 1, False),  # a budget over the limit: a stall could be long
        ("onnxruntime", 0, "dopri5", 20, 1, False),  # 0 turns inline solves off
        (
            "onnxruntime",
            1000,
            "dopri5",
            1000,
            ORT_MAX_BATCH + 1,
            False,
        ),  # numpy solves large batches (service.engine.backends.NumpyBackend)
        ("onnxruntime", 1000, "dopri8", 1000, 1, False),  # torchdiffeq's methods are Python loops
        ("torch", 1000, "dopri5", 20, 1, False),  # so are the torch backend's
    ],
)
def test_small_compiled_solves_run_on_the_event_loop(
    spies: dict[str, _ThreadSpy],
    backend: str,
    inline_max_steps: int,
    method: str,
    max_steps: int,
    samples: int,
    inline: bool,
) -> None:
    """Only a compiled graph with a bounded step budget may hold the event loop; the rest goes to
    the solver thread. Either way the answer is the one the runner gives alone."""
    spy = spies[backend]
    x = np.random.default_rng(4).normal(size=(samples, 2))
    jobs = [(x, SolverConfig(method, 1e-5, 1e-5, 0.05, max_steps))]
    batcher = DynamicBatcher(max_batch_size=ORT_MAX_BATCH + 1, inline_max_steps=inline_max_steps)
    loop_thread, answers = asyncio.run(_solved_on(batcher, spy, jobs))
    batcher.close()
    assert len(spy.threads) == 1
    if inline:
        assert spy.threads == [loop_thread]
    else:
        assert spy.threads[0] != loop_thread and spy.threads[0].startswith("odeserve-solver")
    assert batcher.waiting == 0
    _check_answers(spy, jobs, answers)


@pytest.mark.parametrize("other_budget, inline", [(500, True), (2000, False)])
def test_the_largest_budget_in_a_batch_decides_where_it_runs(
    spies: dict[str, _ThreadSpy], other_budget: int, inline: bool
) -> None:
    """Batchmates with their own budgets share one solve; one budget over the limit sends it to the thread."""
    spy = spies["onnxruntime"]
    rng = np.random.default_rng(5)
    jobs = [
        (rng.normal(size=(2, 2)), _cfg(1e-4, max_steps=20)),
        (rng.normal(size=(3, 2)), _cfg(1e-7, max_steps=other_budget)),
    ]
    batcher = DynamicBatcher(max_batch_size=64, max_delay_s=0.01, inline_max_steps=1000)
    loop_thread, answers = asyncio.run(_solved_on(batcher, spy, jobs))
    batcher.close()
    assert [a.batch_size for a in answers] == [5, 5]  # one shared solve
    assert len(spy.threads) == 1 and (spy.threads[0] == loop_thread) == inline
    _check_answers(spy, jobs, answers)
