from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from models_store import (
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    build_network,
    load_weights,
    weights_to_bytes,
)

SPECS = {
    "node": ArchitectureSpec(input_shape=[2], num_classes=2),
    "anode": ArchitectureSpec(
        input_shape=[2], augment_dim=3, field=FieldSpec(hidden=[16, 16]), num_classes=3
    ),
    "timed": ArchitectureSpec(input_shape=[4], field=FieldSpec(hidden=[8], time_input=True), num_classes=2),
    "conv": ArchitectureSpec(
        input_shape=[1, 8, 8],
        encoder=ConvEncoderSpec(channels=[4, 8, 8], latent_dim=6),
        augment_dim=2,
        num_classes=10,
    ),
}


@pytest.mark.parametrize("key", SPECS)
def test_parts_have_the_shapes_the_spec_promises(key):
    spec = SPECS[key]
    network = build_network(spec)
    x = torch.rand(5, *spec.input_shape)
    z0 = network.initial_state(x)
    assert z0.shape == (5, spec.state_dim)
    assert torch.equal(z0[:, spec.encoded_dim :], torch.zeros(5, spec.augment_dim))
    assert network.field(torch.tensor(0.5), z0).shape == z0.shape
    assert network.head(z0).shape == (5, spec.num_classes)


def test_time_input_takes_a_scalar_or_one_time_per_sample():
    network = build_network(SPECS["timed"])
    z = torch.randn(3, 4)
    per_sample = network.field(torch.full((3, 1), 0.25), z)
    assert torch.allclose(network.field(torch.tensor(0.25), z), per_sample)
    assert not torch.allclose(network.field(torch.tensor(0.75), z), per_sample)


@pytest.mark.parametrize("key", SPECS)
def test_weights_round_trip_through_safetensors(key, tmp_path):
    network = build_network(SPECS[key])
    path = tmp_path / "w.safetensors"
    path.write_bytes(weights_to_bytes(network))
    other = build_network(SPECS[key])
    other.load_state_dict(load_weights(path), strict=True)
    assert all(
        torch.equal(a, b)
        for a, b in zip(network.state_dict().values(), other.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_shape": [2], "encoder": ConvEncoderSpec(), "num_classes": 2},
        {"input_shape": [2], "num_classes": 1},
        {"input_shape": [2], "augment_dim": -1, "num_classes": 2},
        {"input_shape": [], "num_classes": 2},
        {"input_shape": [2], "num_classes": 2, "extra": 1},
    ],
)
def test_invalid_specs_are_refused(kwargs):
    with pytest.raises(ValidationError):
        ArchitectureSpec(**kwargs)
