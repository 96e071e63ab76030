"""The ONNX Runtime backend, and the numpy loop it hands big batches to, reproduce the torch solver
step for step; a sample's label and NFE in a big batch are those it gets alone."""

import numpy as np
import pytest
import torch
from tiny_version import export_field, make_version

from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED, ModelRunner, SolverConfig, StepLimitExceeded
from service.engine.backends import (
    ORT_MAX_BATCH,
    BackendError,
    NumpyBackend,
    OnnxRuntimeBackend,
    TorchBackend,
    big_batches,
    select_backend,
)
from service.engine.config import SampleSettings


@pytest.fixture(scope="module")
def runners(tiny, tiny_onnx) -> dict[str, ModelRunner]:
    network, manifest = tiny
    return {
        name: ModelRunner(network, manifest, tiny_onnx, backend=name) for name in ("torch", "onnxruntime")
    }


def test_auto_prefers_onnxruntime_when_it_matches(tiny, tiny_onnx) -> None:
    runner = ModelRunner(*tiny, tiny_onnx, backend="auto")
    assert isinstance(runner.backend, OnnxRuntimeBackend) and runner.backend_note is None


def test_auto_falls_back_to_torch_without_onnx(tiny) -> None:
    runner = ModelRunner(*tiny, None, backend="auto")
    assert runner.backend.name == "torch" and "no field.onnx" in runner.backend_note


def test_forced_onnxruntime_refuses_a_broken_graph(tiny) -> None:
    with pytest.raises(BackendError):
        ModelRunner(*tiny, b"not an onnx file", backend="onnxruntime")


@pytest.mark.parametrize("method", [*NATIVE_ADAPTIVE, *NATIVE_FIXED])
def test_same_answers_and_nfe_as_torch(runners, method: str) -> None:
    x = np.random.default_rng(1).normal(size=(64, 2)) * 2
    cfg = SolverConfig(method, 1e-6, 1e-6, 0.05, 5000)
    got, want = runners["onnxruntime"].predict(x, cfg), runners["torch"].predict(x, cfg)
    assert got.nfe == want.nfe and got.accepted == want.accepted and got.rejected == want.rejected
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
def test_onnxruntime_is_batch_invariant(runners, method: str) -> None:
    x = np.random.default_rng(2).normal(size=(ORT_MAX_BATCH, 2)) * 3
    cfg = SolverConfig(method, 1e-5, 1e-5, 0.05, 5000)
    ort_runner = runners["onnxruntime"]
    alone, crowd = ort_runner.predict(x[:1], cfg), ort_runner.predict(x, cfg)
    assert alone.nfe[0] == crowd.nfe[0]
    np.testing.assert_allclose(alone.probabilities[0], crowd.probabilities[0], rtol=0, atol=1e-12)


def test_onnxruntime_per_sample_settings_and_failures(runners) -> None:
    x = torch.as_tensor(np.random.default_rng(3).normal(size=(3, 2)))
    runner = runners["onnxruntime"]
    tol = np.array([1e-3, 1e-9, 1e-5])
    settings = SampleSettings(
        rtol=tol, atol=tol, step_size=np.full(3, 0.05), max_steps=np.array([1000, 3, 1000])
    )
    sol, _ = runner.solve_batch(x.numpy(), "dopri5", settings)
    assert sol.failed.tolist() == [False, True, False]
    ref, _ = runners["torch"].solve_batch(x.numpy(), "dopri5", settings)
    assert np.array_equal(sol.nfe, ref.nfe)


def test_step_limit_raised_by_predict(runners) -> None:
    with pytest.raises(StepLimitExceeded):
        runners["onnxruntime"].predict(np.ones((2, 2)), SolverConfig("dopri5", 1e-10, 1e-10, 0.05, 2))


def test_parity_probe_detects_a_wrong_backend(tiny, tiny_onnx, other_version) -> None:
    network, manifest = tiny
    runner = ModelRunner(network, manifest, tiny_onnx, backend="torch")
    other = ModelRunner(*other_version)  # different weights than the ONNX field
    cfg = SolverConfig.resolve(manifest.default_solver)
    probe = runner.encode(np.zeros((4, 2)))
    backend, note = select_backend(
        "auto", other.reference, tiny_onnx, cfg.method, probe, SampleSettings.uniform(cfg, 4)
    )
    assert backend.name == "torch" and "differ" in note


def test_large_batches_go_to_numpy_with_the_same_steps(runners) -> None:
    x = np.random.default_rng(6).normal(size=(ORT_MAX_BATCH + 1, 2))
    cfg = SolverConfig("dopri5", 1e-6, 1e-6, 0.05, 5000)
    assert isinstance(runners["onnxruntime"].backend.fallback, NumpyBackend)
    big, torch_big = runners["onnxruntime"].predict(x, cfg), runners["torch"].predict(x, cfg)
    assert big.nfe == torch_big.nfe and big.accepted == torch_big.accepted
    np.testing.assert_allclose(big.probabilities, torch_big.probabilities, rtol=0, atol=1e-12)
    small = runners["onnxruntime"].predict(x[:ORT_MAX_BATCH], cfg)
    assert small.nfe == big.nfe[:ORT_MAX_BATCH]
    np.testing.assert_allclose(small.probabilities, big.probabilities[:ORT_MAX_BATCH], rtol=0, atol=1e-12)


def test_both_graph_variants_are_built_at_load(runners) -> None:
    """A first mixed-budget batch may be solved on the event loop: it must not build a session there."""
    backend = runners["onnxruntime"].backend
    method = runners["onnxruntime"].manifest.default_solver.method
    assert {(method, False, False), (method, True, False)} <= set(backend._sessions)


def test_a_cold_runner_builds_the_variants_it_uses_when_it_uses_them(tiny, tiny_onnx) -> None:
    """``warm=False`` (the scoring command): nothing built ahead beyond the load's own probe, and a
    solve that needs another variant builds it then, with the same answer as a warm runner's."""
    cold = ModelRunner(*tiny, tiny_onnx, backend="onnxruntime", warm=False)
    assert isinstance(cold.backend, OnnxRuntimeBackend)
    method = cold.manifest.default_solver.method
    assert (method, False, True) not in cold.backend._sessions  # the trajectory variant: not yet
    x = np.random.default_rng(3).normal(size=(4, 2))
    times = np.linspace(*cold.interval, 5)
    cfg = SolverConfig.resolve(cold.manifest.default_solver)
    got = cold.trajectory(x, times, cfg)
    assert (method, False, True) in cold.backend._sessions
    warm = ModelRunner(*tiny, tiny_onnx, backend="onnxruntime").trajectory(x, times, cfg)
    np.testing.assert_array_equal(got.states, warm.states)
    assert got.final.nfe == warm.final.nfe


@pytest.fixture(scope="module", params=["timed", "autonomous"])
def served(request: pytest.FixtureRequest, tiny, tiny_onnx) -> ModelRunner:
    """What ``auto`` serves: a timed, augmented field, and an autonomous one (the moons kind)."""
    if request.param == "timed":
        return ModelRunner(*tiny, tiny_onnx, backend="auto")
    network, manifest = make_version(augment_dim=0, time_input=False, seed=3)
    return ModelRunner(network, manifest, export_field(network), backend="auto")


@pytest.mark.parametrize("batch", [256, 1024, 4096])
def test_big_batches_are_batch_invariant(served: ModelRunner, batch: int) -> None:
    """64 samples of the batch, each solved alone (in the ONNX graph): the same label and NFE, and
    probabilities within 1e-6 (float64 round-off, in fact)."""
    route = served.backend.route
    assert route("dopri5", batch) == "numpy" and route("dopri5", 1) == "onnxruntime"
    rng = np.random.default_rng(batch)
    x = rng.normal(size=(batch, 2)) * 2
    cfg = SolverConfig("dopri5", 1e-4, 1e-4, 0.05, 1000)
    crowd = served.predict(x, cfg)
    for i in rng.choice(batch, size=64, replace=False).tolist():
        alone = served.predict(x[i : i + 1], cfg)
        assert alone.nfe == crowd.nfe[i : i + 1] and alone.labels == crowd.labels[i : i + 1]
        assert alone.accepted == crowd.accepted[i : i + 1]
        np.testing.assert_allclose(alone.probabilities, crowd.probabilities[i : i + 1], rtol=0, atol=1e-6)


def test_numpy_per_sample_settings_failures_and_trajectories(runners) -> None:
    """The numpy loop takes each sample's own settings, flags its failures and gives torch's dense output."""
    batch = ORT_MAX_BATCH + 3
    x = np.random.default_rng(7).normal(size=(batch, 2))
    tol = np.resize([1e-3, 1e-9, 1e-5], batch)
    settings = SampleSettings(tol, tol, np.full(batch, 0.05), np.resize([1000, 3, 1000], batch))
    times = np.linspace(0.0, 1.0, 5)
    got, _ = runners["onnxruntime"].solve_batch(x, "dopri5", settings, times=times)
    want, _ = runners["torch"].solve_batch(x, "dopri5", settings, times=times)
    assert got.failed.tolist() == np.resize([False, True, False], batch).tolist()
    ok = ~got.failed
    np.testing.assert_array_equal(got.nfe[ok], want.nfe[ok])
    assert got.outputs is not None and want.outputs is not None
    np.testing.assert_allclose(got.outputs[:, ok], want.outputs[:, ok], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.outputs[-1, ok], got.final[ok])


def test_fields_numpy_cannot_evaluate_stay_with_torch(tiny) -> None:
    runner = ModelRunner(*tiny, None, backend="torch")
    cfg = SolverConfig.resolve(runner.manifest.default_solver)
    probe, settings = runner.encode(np.zeros((4, 2))), SampleSettings.uniform(cfg, 4)
    assert isinstance(big_batches(runner.reference, cfg.method, probe, settings), NumpyBackend)
    other = TorchBackend(lambda t, z: runner.network.field(t, z), runner.interval)
    assert big_batches(other, cfg.method, probe, settings) is other
