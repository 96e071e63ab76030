"""ModelRunner's numpy encoder and head (or ONNX Runtime's in-graph head) give what torch gives."""

import numpy as np
import pytest
import torch
from tiny_version import export_field, make_version

from models_store import ConvEncoderSpec
from service.engine import ModelRunner, SolverConfig
from service.engine.config import SampleSettings

VERSIONS = {
    "node": {"augment_dim": 0},
    "anode": {"augment_dim": 3},
    "image-flatten": {"augment_dim": 2, "input_shape": (1, 3, 3), "classes": 4},
    "image-conv": {
        "augment_dim": 1,
        "input_shape": (1, 4, 4),
        "classes": 3,
        "encoder": ConvEncoderSpec(channels=[2], latent_dim=3),
    },
}


@pytest.mark.parametrize("kind", VERSIONS)
def test_encode_and_head_match_the_torch_network(kind: str) -> None:
    network, manifest = make_version(time_input=False, **VERSIONS[kind])
    runner = ModelRunner(network, manifest, backend="torch")
    x = np.random.default_rng(4).normal(size=(5, *manifest.input.shape))
    reference = runner.network  # the float64 copy the runner serves
    with torch.inference_mode():
        want_z = reference.initial_state(torch.from_numpy(x))
        want_p = torch.softmax(reference.head(want_z), dim=-1).numpy()
    got_z = runner.encode(x)
    assert got_z.dtype == np.float64 and got_z.shape == want_z.shape == (5, network.spec.state_dim)
    assert np.array_equal(got_z, want_z.numpy())
    np.testing.assert_allclose(runner.probabilities(got_z), want_p, rtol=0, atol=1e-15)
    flat = x.reshape(5, -1)  # inputs may come flat as well as nested
    assert np.array_equal(runner.encode(flat), want_z.numpy())


def test_head_takes_any_leading_shape_and_huge_logits() -> None:
    network, manifest = make_version(augment_dim=0, time_input=False)
    runner = ModelRunner(network, manifest, backend="torch")
    states = np.random.default_rng(5).normal(size=(3, 4, 2)) * 1e4  # [T, B, D], logits far beyond exp's range
    probs = runner.probabilities(states)
    assert probs.shape == (3, 4, 2) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    with torch.inference_mode():
        want = torch.softmax(runner.network.head(torch.from_numpy(states)), dim=-1).numpy()
    np.testing.assert_allclose(probs, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", ["node", "anode"])
def test_onnxruntime_reads_out_the_same_probabilities(kind: str) -> None:
    """With ONNX Runtime the head runs inside the solve graph: the same numbers as numpy's."""
    network, manifest = make_version(time_input=False, **VERSIONS[kind])
    runner = ModelRunner(network, manifest, export_field(network), backend="onnxruntime")
    x = np.random.default_rng(6).normal(size=(7, *manifest.input.shape))
    settings = SampleSettings.uniform(SolverConfig("dopri5", 1e-6, 1e-6, 0.05, 1000), 7)
    sol, probs = runner.solve_batch(x, "dopri5", settings)
    assert sol.probabilities is probs and probs.shape == (7, 2)
    np.testing.assert_allclose(probs, runner.probabilities(sol.final), rtol=0, atol=1e-15)
