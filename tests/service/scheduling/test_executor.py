"""The executor: a request solved in parts (an explorer grid) answers as one solve would."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from models_store import Manifest, OdeClassifier
from service.engine import ModelRunner, SolverConfig, StepLimitExceeded
from service.lifecycle.loading import Baseline, LoadedVersion
from service.scheduling.batcher import DynamicBatcher
from service.scheduling.executor import Executor
from service.telemetry.metrics import Metrics

CFG = SolverConfig("dopri5", 1e-6, 1e-6, 0.05, 5000)


@pytest.fixture(scope="module", params=["torch", "onnxruntime"])
def loaded(
    request: pytest.FixtureRequest, tiny: tuple[OdeClassifier, Manifest], tiny_onnx: bytes
) -> LoadedVersion:
    runner = ModelRunner(*tiny, tiny_onnx, backend=request.param)
    return LoadedVersion("tiny", 1, tiny[1], "", (), runner, Baseline(0.0, 0, CFG))


def _predict(loaded: LoadedVersion, inputs: np.ndarray, cfg: SolverConfig, part: int | None):
    async def run():
        executor = Executor(DynamicBatcher(max_batch_size=8), Metrics(CollectorRegistry()))
        try:
            return await executor.predict(loaded, inputs, cfg, part)
        finally:
            executor.close()

    return asyncio.run(run())


@pytest.mark.parametrize("part", [None, 1, 4, 10, 11])
def test_parts_answer_as_one_solve(loaded: LoadedVersion, part: int | None) -> None:
    inputs = np.random.default_rng(0).normal(size=(10, 2)) * 2
    whole, parts = loaded.runner.predict(inputs, CFG), _predict(loaded, inputs, CFG, part)
    assert (parts.labels, parts.nfe, parts.accepted, parts.rejected) == (
        whole.labels,
        whole.nfe,
        whole.accepted,
        whole.rejected,
    )
    np.testing.assert_allclose(parts.probabilities, whole.probabilities, rtol=0, atol=1e-12)
    assert parts.batch_invariant


def test_a_step_limit_in_a_later_part_names_the_samples_by_their_place_in_the_request(
    loaded: LoadedVersion,
) -> None:
    cfg = SolverConfig("dopri5", 1e-8, 1e-8, 0.05, 5000)
    inputs = np.random.default_rng(1).normal(size=(12, 2)) * 30
    inputs = inputs[np.argsort(loaded.runner.predict(inputs, cfg).nfe, kind="stable")]  # the hardest last
    easy = loaded.runner.predict(inputs[:1], cfg)
    tight = SolverConfig("dopri5", 1e-8, 1e-8, 0.05, easy.accepted[0] + easy.rejected[0])
    with pytest.raises(StepLimitExceeded) as whole:
        loaded.runner.predict(inputs, tight)
    with pytest.raises(StepLimitExceeded) as parts:
        _predict(loaded, inputs, tight, 4)
    first = whole.value.samples[0]
    assert first >= 4  # not in the first part
    assert parts.value.samples == [s for s in whole.value.samples if s // 4 == first // 4]
