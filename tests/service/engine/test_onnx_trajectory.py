"""ONNX Runtime's trajectory graph: predict's steps, with the torch solver's dense output filled in
inside the Loop. Its states match torch's trajectory to float64 round-off, its final answer and
NFE are ONNX Runtime predict's exactly, and a row's trajectory does not depend on its batchmates."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from fixture_store import DEMO_MODELS, DEMO_READY
from tiny_version import export_field, make_version

from models_store import DEFAULT_STORE_ROOT, Manifest, ModelStore, OdeClassifier, load_network
from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED, ModelRunner, SolverConfig
from service.engine.backends import OnnxRuntimeBackend
from service.engine.config import SampleSettings
from service.engine.onnx import build_solver
from service.engine.solve import solve_samples
from service.engine.tableaus import TABLEAUS

NATIVE = [*NATIVE_ADAPTIVE, *NATIVE_FIXED]
STATE_TOL = 1e-12  # float64 round-off: the graph sums stages with MatMuls, torch element-wise
Version = tuple[OdeClassifier, Manifest]
Runners = dict[str, ModelRunner]


def _runners(network: OdeClassifier, manifest: Manifest, field_onnx: bytes) -> Runners:
    return {
        name: ModelRunner(network, manifest, field_onnx, backend=name) for name in ("torch", "onnxruntime")
    }


@pytest.fixture(scope="module", params=["node", "anode", "node-timed"])
def runners(request: pytest.FixtureRequest) -> Runners:
    """Moons-like tiny models: autonomous (fused first layer) with and without an augmented
    dimension, and one whose field reads t (the generic path)."""
    if request.param == "node-timed":
        network, manifest = make_version()
    else:
        network, manifest = make_version(augment_dim=int(request.param == "anode"), time_input=False, seed=11)
    return _runners(network, manifest, export_field(network))


def _grid(runner: ModelRunner, points: int, seed: int) -> np.ndarray:
    """t0, sorted random times inside, and t1, with t0 and t1 exact."""
    t0, t1 = runner.interval
    inside = np.sort(np.random.default_rng(seed).uniform(t0, t1, points - 2))
    return np.concatenate([[t0], inside, [t1]])


def _check(runners: Runners, x: np.ndarray, times: np.ndarray, cfg: SolverConfig) -> None:
    fast, ref = runners["onnxruntime"], runners["torch"]
    got, want = fast.trajectory(x, times, cfg), ref.trajectory(x, times, cfg)
    assert got.states.shape == want.states.shape == (len(times), len(x), want.states.shape[2])
    assert got.times == want.times == times.tolist()
    np.testing.assert_allclose(got.states, want.states, rtol=0, atol=STATE_TOL)
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=0, atol=STATE_TOL)
    assert got.final.nfe == want.final.nfe
    assert got.final.accepted == want.final.accepted and got.final.rejected == want.final.rejected
    predicted = fast.predict(x, cfg)  # ONNX Runtime's predict: the same steps, bit for bit
    assert got.final.nfe == predicted.nfe and got.final.labels == predicted.labels
    assert np.array_equal(got.final.probabilities, predicted.probabilities)
    assert np.array_equal(got.states[0], fast.encode(x))  # t0: z0 exactly


@pytest.mark.parametrize("method", NATIVE)
def test_states_match_the_torch_trajectory(runners: Runners, method: str) -> None:
    x = np.random.default_rng(1).normal(size=(16, 2)) * 2
    _check(runners, x, _grid(runners["torch"], 12, 2), SolverConfig(method, 1e-6, 1e-6, 0.05, 5000))


@pytest.mark.parametrize("method", NATIVE)
def test_final_state_is_predicts_and_t1_is_exact(runners: Runners, method: str) -> None:
    """The state at t1 is the solve's final state itself, and that is ONNX Runtime predict's."""
    backend = runners["onnxruntime"].backend
    assert isinstance(backend, OnnxRuntimeBackend)
    z0 = runners["onnxruntime"].encode(np.random.default_rng(3).normal(size=(5, 2)))
    settings = SampleSettings.uniform(SolverConfig(method, 1e-7, 1e-7, 0.1, 5000), 5)
    times = _grid(runners["torch"], 7, 4)
    dense, plain = backend.solve(method, z0, settings, times=times), backend.solve(method, z0, settings)
    assert dense.outputs is not None and dense.outputs.shape == (7, 5, z0.shape[1])
    assert np.array_equal(dense.final, plain.final) and np.array_equal(dense.outputs[-1], plain.final)
    assert np.array_equal(dense.outputs[0], z0)
    for counts in ("nfe", "accepted", "rejected", "failed"):
        assert np.array_equal(getattr(dense, counts), getattr(plain, counts)), counts


@pytest.mark.parametrize("method", NATIVE)
def test_a_rows_trajectory_does_not_depend_on_its_batchmates(runners: Runners, method: str) -> None:
    """Mixed per-sample tolerances (and budgets) in one batch: each row's trajectory is its own."""
    runner, reference = runners["onnxruntime"], runners["torch"]
    backend = runner.backend
    assert isinstance(backend, OnnxRuntimeBackend)
    z0 = runner.encode(np.random.default_rng(5).normal(size=(4, 2)) * 2)
    tol = np.array([1e-3, 1e-9, 1e-5, 1e-7])
    steps = np.array([0.05, 0.01, 0.1, 0.02])
    times = _grid(reference, 9, 6)
    for budgets in (np.full(4, 100_000), np.array([100_000, 90_000, 100_000, 80_000])):
        settings = SampleSettings(rtol=tol, atol=tol, step_size=steps, max_steps=budgets)
        crowd = backend.solve(method, z0, settings, times=times)
        assert crowd.outputs is not None and not crowd.failed.any()
        for i in range(4):
            one = SampleSettings(
                rtol=tol[i : i + 1],
                atol=tol[i : i + 1],
                step_size=steps[i : i + 1],
                max_steps=budgets[i : i + 1],
            )
            alone = backend.solve(method, z0[i : i + 1], one, times=times)
            assert alone.outputs is not None
            assert alone.nfe[0] == crowd.nfe[i]
            np.testing.assert_allclose(alone.outputs[:, 0], crowd.outputs[:, i], rtol=0, atol=STATE_TOL)
            np.testing.assert_allclose(alone.final[0], crowd.final[i], rtol=0, atol=STATE_TOL)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
def test_mixed_tolerances_match_torch(runners: Runners, method: str) -> None:
    """The same mixed batch through torch's per-sample solver: the same states and counts."""
    runner, reference = runners["onnxruntime"], runners["torch"]
    backend = runner.backend
    assert isinstance(backend, OnnxRuntimeBackend)
    z0 = runner.encode(np.random.default_rng(7).normal(size=(4, 2)) * 2)
    tol = np.array([1e-3, 1e-9, 1e-5, 1e-7])
    settings = SampleSettings(rtol=tol, atol=tol, step_size=np.full(4, 0.05), max_steps=np.full(4, 100_000))
    times = _grid(reference, 9, 8)
    got = backend.solve(method, z0, settings, times=times)
    with torch.inference_mode():
        want = solve_samples(
            reference.network.field,
            torch.from_numpy(z0),
            reference.interval,
            method,
            settings,
            torch.from_numpy(times),
        )
    assert got.outputs is not None and want.outputs is not None
    np.testing.assert_allclose(got.outputs, want.outputs, rtol=0, atol=STATE_TOL)
    assert np.array_equal(got.nfe, want.nfe)


def test_times_at_t0_only_and_repeated(runners: Runners) -> None:
    """Edge grids: every time at t0, repeated times, a single time at t1."""
    t0, t1 = runners["torch"].interval
    x = np.random.default_rng(9).normal(size=(3, 2))
    cfg = SolverConfig("dopri5", 1e-6, 1e-6, 0.05, 5000)
    for times in (
        np.array([t0, t0]),
        np.array([t0, 0.5 * (t0 + t1), 0.5 * (t0 + t1), t1, t1]),
        np.array([t1]),
    ):
        _check_loose(runners, x, times, cfg)


def _check_loose(runners: Runners, x: np.ndarray, times: np.ndarray, cfg: SolverConfig) -> None:
    got, want = runners["onnxruntime"].trajectory(x, times, cfg), runners["torch"].trajectory(x, times, cfg)
    np.testing.assert_allclose(got.states, want.states, rtol=0, atol=STATE_TOL)
    assert got.final.nfe == want.final.nfe


def test_times_outside_the_interval_are_refused(runners: Runners) -> None:
    t0, t1 = runners["torch"].interval
    cfg = SolverConfig("dopri5", 1e-6, 1e-6, 0.05, 5000)
    for name in ("torch", "onnxruntime"):
        with pytest.raises(ValueError, match="inside the integration interval"):
            runners[name].trajectory(np.zeros((1, 2)), np.array([t0, t1 + 1.0]), cfg)


@pytest.mark.parametrize("method", NATIVE)
def test_the_predict_graph_is_unchanged_by_the_variant(runners: Runners, method: str) -> None:
    """The trajectory graph adds to the plain one: same inputs and outputs first, and building it
    does not change what the plain build gives."""
    backend = runners["onnxruntime"].backend
    assert isinstance(backend, OnnxRuntimeBackend)
    tab = TABLEAUS[method]
    before = build_solver(tab, backend.field, *backend.interval).SerializeToString()
    dense = build_solver(tab, backend.field, *backend.interval, times=True)
    assert build_solver(tab, backend.field, *backend.interval).SerializeToString() == before
    plain = onnx.load_from_string(before)
    assert [i.name for i in dense.graph.input][:-1] == [i.name for i in plain.graph.input]
    assert [o.name for o in dense.graph.output][:-1] == [o.name for o in plain.graph.output]


@pytest.mark.skipif(not DEMO_READY, reason="the demo store is not built")
@pytest.mark.parametrize("name", DEMO_MODELS)
@pytest.mark.parametrize("method", ["dopri5", "bosh3", "adaptive_heun", "rk4"])
def test_demo_models(name: str, method: str) -> None:
    store = ModelStore(DEFAULT_STORE_ROOT)
    manifest = store.verify(name, None)
    folder = store.version_dir(name, None)
    runners = _runners(load_network(folder, manifest), manifest, (folder / "field.onnx").read_bytes())
    x = np.random.default_rng(10).normal(size=(6, *manifest.input.shape))
    _check(runners, x, _grid(runners["torch"], 10, 11), SolverConfig(method, 1e-6, 1e-6, 0.05, 5000))
