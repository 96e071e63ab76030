"""The ONNX solve graph's fused path (an autonomous field's first layer takes the stage
combinations) reproduces the torch solver step for step, like the generic path does."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from tiny_version import export_field, make_version

from models_store import Manifest, OdeClassifier
from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED, ModelRunner, SolverConfig
from service.engine.backends import ORT_MAX_BATCH
from service.engine.config import SampleSettings
from service.engine.onnx import build_solver, first_layer
from service.engine.tableaus import ADAPTIVE_TABLEAUS, FIXED_TABLEAUS

NATIVE = [*NATIVE_ADAPTIVE, *NATIVE_FIXED]
TABLEAUS = {**ADAPTIVE_TABLEAUS, **FIXED_TABLEAUS}
Version = tuple[OdeClassifier, Manifest]


@pytest.fixture(scope="module", params=[0, 1], ids=["node", "anode"])
def autonomous(request: pytest.FixtureRequest) -> tuple[Version, bytes]:
    """A field that ignores t (with and without an augmented dimension), and its field.onnx."""
    version = make_version(augment_dim=request.param, time_input=False, seed=11)
    return version, export_field(version[0])


@pytest.fixture(scope="module")
def runners(autonomous: tuple[Version, bytes]) -> dict[str, ModelRunner]:
    (network, manifest), field_onnx = autonomous
    return {
        name: ModelRunner(network, manifest, field_onnx, backend=name) for name in ("torch", "onnxruntime")
    }


def _ops(graph: onnx.GraphProto) -> set[str]:
    """Every op type in a graph, the Loop body's included."""
    ops = set()
    for node in graph.node:
        ops.add(node.op_type)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                ops |= _ops(attr.g)
    return ops


def test_first_layer_is_split_off_only_for_autonomous_fields(
    autonomous: tuple[Version, bytes], tiny_onnx: bytes
) -> None:
    """The fused path needs t unused: a timed field's first layer also reads t, so it stays whole."""
    (network, _), field_onnx = autonomous
    layer = first_layer(onnx.load_from_string(field_onnx))
    assert layer is not None
    dim, hidden = network.spec.state_dim, 32
    assert layer.weight.shape == (dim, hidden) and layer.bias.shape == (hidden,)
    assert first_layer(onnx.load_from_string(tiny_onnx)) is None


@pytest.mark.parametrize("method", NATIVE)
def test_stage_inputs_are_fused_into_the_first_layer(
    autonomous: tuple[Version, bytes], tiny_onnx: bytes, method: str
) -> None:
    """So that the parity tests below run the fused graph: every method with more than one stage
    evaluates its stages through the split-off tail; a timed field never does."""
    tab = TABLEAUS[method]
    fused = _ops(build_solver(tab, onnx.load_from_string(autonomous[1]), 0.0, 1.0).graph)
    timed = _ops(build_solver(tab, onnx.load_from_string(tiny_onnx), 0.0, 1.0).graph)
    assert ("field_tail" in fused) == (tab.stages > 1)
    assert "field_tail" not in timed and "field" in timed


@pytest.mark.parametrize("method", NATIVE)
def test_same_answers_and_steps_as_torch(runners: dict[str, ModelRunner], method: str) -> None:
    """Folding the stage weights into the layer changes rounding only: not one step may differ."""
    x = np.random.default_rng(1).normal(size=(64, 2)) * 2
    cfg = SolverConfig(method, 1e-6, 1e-6, 0.05, 5000)
    got, want = runners["onnxruntime"].predict(x, cfg), runners["torch"].predict(x, cfg)
    assert got.nfe == want.nfe and got.accepted == want.accepted and got.rejected == want.rejected
    assert got.labels == want.labels
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", NATIVE)
def test_fused_path_is_batch_invariant(runners: dict[str, ModelRunner], method: str) -> None:
    """A sample's answer and NFE do not depend on its batchmates (finished samples are fixed points)."""
    x = np.random.default_rng(2).normal(size=(ORT_MAX_BATCH, 2)) * 3
    cfg = SolverConfig(method, 1e-5, 1e-5, 0.05, 5000)
    runner = runners["onnxruntime"]
    crowd = runner.predict(x, cfg)
    for i in (0, ORT_MAX_BATCH - 1):
        alone = runner.predict(x[i : i + 1], cfg)
        assert alone.nfe[0] == crowd.nfe[i] and alone.accepted[0] == crowd.accepted[i]
        np.testing.assert_allclose(alone.probabilities[0], crowd.probabilities[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_per_sample_budgets_fail_only_their_own_samples(runners: dict[str, ModelRunner], method: str) -> None:
    """One sample runs out of steps in a batch whose others finish: the same samples fail as in
    torch, and the others' answers and counts are torch's."""
    x = np.random.default_rng(3).normal(size=(4, 2)) * 2
    tol = np.array([1e-3, 1e-9, 1e-5, 1e-7])
    settings = SampleSettings(
        rtol=tol, atol=tol, step_size=np.full(4, 0.05), max_steps=np.array([1000, 3, 1000, 1000])
    )
    (got, got_probs), (want, want_probs) = (
        runners[name].solve_batch(x, method, settings) for name in ("onnxruntime", "torch")
    )
    assert got.failed.tolist() == want.failed.tolist() == [False, True, False, False]
    ok = ~want.failed
    for counts in ("nfe", "accepted", "rejected"):
        assert np.array_equal(getattr(got, counts)[ok], getattr(want, counts)[ok]), counts
    np.testing.assert_allclose(got_probs[ok], want_probs[ok], rtol=0, atol=1e-12)
