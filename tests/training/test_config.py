from __future__ import annotations

import pytest
from pydantic import ValidationError

from models_store import ConvEncoderSpec, SolverDefaults
from training import TrainConfig


@pytest.mark.parametrize(
    "option",
    [
        {"epochs": 0},
        {"epochs": -3},
        {"rtol": 0},
        {"atol": -1e-3},
        {"lr": 0},
        {"batch_size": 0},
        {"samples": 5},
        {"noise": -0.1},
        {"augment_dim": -1},
        {"hidden": []},
        {"method": "nope"},
        {"method": "scipy_solver"},
        {"method": "explicit_adams"},
        {"serve_method": "explicit_adams"},
        {"kinetic_energy": -1},
        {"rtol": float("nan")},
        {"name": "Bad Name"},
        {"dataset": "mnist"},
        {"dataset": "moons", "data": "x.csv"},
        {"dataset": "npz", "data": "x.npz", "label_column": "y"},
        {"dataset": "digits", "samples": 100},
        {"dataset": "csv", "data": "x.csv", "noise": 0.1},
        {"latent_dim": 8},
        {"dataset": "csv"},
        {"surprise": 1},
    ],
)
def test_out_of_bounds_options_are_refused(option):
    with pytest.raises(ValidationError):
        TrainConfig(**option)


def test_config_is_frozen():
    with pytest.raises(ValidationError):
        TrainConfig().epochs = 3


@pytest.mark.parametrize(
    "options, name, family",
    [
        ({}, "moons-node", "node"),
        ({"augment_dim": 2, "dataset": "circles"}, "circles-anode", "anode"),
        ({"name": "mine"}, "mine", "node"),
    ],
)
def test_default_name_says_dataset_and_family(options, name, family):
    config = TrainConfig(**options)
    assert (config.model_name, config.family) == (name, family)


@pytest.mark.parametrize(
    "options, params",
    [
        ({"dataset": "moons"}, {"samples": 1000, "noise": 0.1}),
        ({"dataset": "circles", "samples": 50, "noise": 0.2}, {"samples": 50, "noise": 0.2}),
        ({"dataset": "digits"}, {}),
        ({"dataset": "csv", "data": "d.csv", "label_column": "y"}, {"path": "d.csv", "label_column": "y"}),
        ({"dataset": "npz", "data": "d.npz"}, {"path": "d.npz"}),
    ],
)
def test_dataset_params_are_what_regenerates_the_data(options, params):
    assert TrainConfig(**options).dataset_params() == params


def test_solvers_and_architecture_follow_the_options():
    config = TrainConfig(
        method="rk4", step_size=0.1, serve_rtol=1e-5, encoder="conv", latent_dim=6, augment_dim=2
    )
    assert config.training_solver().method == "rk4" and config.training_solver().step_size == 0.1
    assert config.serving_solver() == SolverDefaults(rtol=1e-5)
    spec = config.architecture([1, 8, 8], 10)
    assert isinstance(spec.encoder, ConvEncoderSpec) and spec.state_dim == 8


def test_a_conv_encoder_on_points_is_refused():
    with pytest.raises(ValidationError, match="conv encoder"):
        TrainConfig(encoder="conv").architecture([2], 2)
