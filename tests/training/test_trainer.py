from __future__ import annotations

import pytest
import torch

from models_store import weights_to_bytes
from training import deterministic, load_dataset, split_dataset, train


def _run(config):
    data = load_dataset(config.dataset, config.dataset_params(), config.seed)
    splits = split_dataset(data, config.seed)
    return train(config, splits, config.architecture(data.input_shape, len(data.classes)))


def test_same_seed_gives_byte_identical_weights(tiny_config):
    assert weights_to_bytes(_run(tiny_config).network) == weights_to_bytes(_run(tiny_config).network)


def test_another_seed_gives_other_weights(tiny_config):
    other = tiny_config.model_copy(update={"seed": 1})
    assert weights_to_bytes(_run(tiny_config).network) != weights_to_bytes(_run(other).network)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"adjoint": True},
        {"kinetic_energy": 0.1},
        {"method": "rk4", "step_size": 0.25},
        {"augment_dim": 2, "time_input": True, "schedule": "constant", "weight_decay": 0.01},
    ],
)
def test_training_records_every_epoch_and_returns_the_best(tiny_config, options):
    result = _run(tiny_config.model_copy(update=options))
    assert [stats.epoch for stats in result.history] == [1, 2]
    assert all(stats.loss > 0 and stats.nfe > 0 for stats in result.history)
    best = max(result.history, key=lambda s: (s.val.accuracy, -s.val.loss))
    assert result.best_epoch == best.epoch and not result.network.training


def test_fixed_grid_training_counts_its_steps(tiny_config):
    result = _run(tiny_config.model_copy(update={"method": "rk4", "step_size": 0.25}))
    assert [stats.nfe for stats in result.history] == [16.0, 16.0]


def test_kinetic_energy_makes_the_flow_shorter(tiny_config):
    """With a heavy penalty the learned field moves points less: its integral of ||f||^2 drops."""
    config = tiny_config.model_copy(update={"epochs": 4})
    plain, penalised = _run(config), _run(config.model_copy(update={"kinetic_energy": 1.0}))
    z0 = torch.rand(64, 2)

    def energy(network):
        with torch.no_grad():
            return network.field(torch.tensor(0.0), z0).pow(2).sum(1).mean().item()

    assert energy(penalised.network) < energy(plain.network)


def test_deterministic_restores_the_global_settings():
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with deterministic(0):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, strict)
