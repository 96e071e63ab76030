"""The field in numpy computes what torch computes, to float64 round-off, for every activation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models_store import ArchitectureSpec, FieldSpec, OdeClassifier, build_network
from models_store.architecture import Activation
from service.engine.mlp import BLOCK, GEMV_ROWS, mlp_field

ACTIVATIONS: tuple[Activation, ...] = ("tanh", "relu", "softplus", "elu", "silu", "sigmoid")


def _network(
    activation: Activation, time_input: bool, hidden: list[int] | None = None, augment_dim: int = 1
) -> OdeClassifier:
    torch.manual_seed(0)
    field = FieldSpec(hidden=hidden or [16, 8], activation=activation, time_input=time_input)
    spec = ArchitectureSpec(input_shape=[2], augment_dim=augment_dim, num_classes=2, field=field)
    return build_network(spec).double().eval()


def _inputs(n: int, dims: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Times [n] and states [n, dims] wide enough to reach every branch (softplus above 20, ELU below 0)."""
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, n), rng.normal(size=(n, dims)) * 15


@pytest.mark.parametrize("time_input", [False, True], ids=["autonomous", "timed"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_field_is_torchs_to_round_off(activation: Activation, time_input: bool) -> None:
    network = _network(activation, time_input)
    field = mlp_field(network.field)
    assert field is not None
    t, z = _inputs(500)
    with torch.inference_mode():
        want = network.field(torch.from_numpy(t), torch.from_numpy(z)).numpy()
    got = field(t, np.ascontiguousarray(z.T)).T  # the solver loop's layout: [D, n]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    ("samples", "augment_dim"),
    [(BLOCK, 1), (2 * BLOCK + 37, 1), (300, GEMV_ROWS)],
    ids=["one-block", "blocks-and-a-rest", "output-by-matrix-product"],
)
def test_blocks_and_wide_outputs_are_torchs_to_round_off(samples: int, augment_dim: int) -> None:
    """Columns are evaluated in blocks of BLOCK; outputs of more than GEMV_ROWS rows by one matrix
    product instead of a product per row: the paths a big batch or a wide state takes."""
    network = _network("tanh", False, [32], augment_dim)
    field = mlp_field(network.field)
    assert field is not None
    t, z = _inputs(samples, 2 + augment_dim)
    with torch.inference_mode():
        want = network.field(torch.from_numpy(t), torch.from_numpy(z)).numpy()
    got = field(t, np.ascontiguousarray(z.T)).T
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_a_sample_gets_the_same_field_alone_as_in_a_batch() -> None:
    """BLAS picks kernels by shape, so a column's last bit may change with the batch (not its value
    beyond round-off); the solver's batch invariance rests on this and is tested in test_backends."""
    field = mlp_field(_network("tanh", True, [64]).field)
    assert field is not None
    t, z = _inputs(1000)
    batch = field(t, np.ascontiguousarray(z.T))
    for i in (0, 1, 499, 998, 999):
        alone = field(t[i : i + 1], np.ascontiguousarray(z[i : i + 1].T))
        np.testing.assert_allclose(alone[:, 0], batch[:, i], rtol=1e-14, atol=1e-14)


def test_other_fields_and_unknown_layers_are_left_to_torch() -> None:
    assert mlp_field(lambda t, z: z) is None
    network = _network("softplus", False)
    network.field.net[1] = torch.nn.Softplus(beta=2.0)  # not the architecture's Softplus
    assert mlp_field(network.field) is None
    network.field.net[1] = torch.nn.GELU()
    assert mlp_field(network.field) is None


def test_the_weights_are_copied_at_conversion() -> None:
    """A runner converts its own float64 copy; later changes to a module must not leak in."""
    network = _network("tanh", False)
    field = mlp_field(network.field)
    assert field is not None
    t, z = _inputs(4)
    before = field(t, np.ascontiguousarray(z.T))
    with torch.no_grad():
        network.field.net[0].weight.add_(1.0)
    np.testing.assert_array_equal(field(t, np.ascontiguousarray(z.T)), before)
