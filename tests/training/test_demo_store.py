"""The committed demo store proves its claims: results re-measured on regenerated test splits.

Each model's test split is regenerated from its manifest's training record (dataset, params,
seed) and re-solved with torchdiffeq at the model's default solver; nothing is retrained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from models_store import DEFAULT_STORE_ROOT, LATEST, ModelStore, load_network
from training import (
    DEMO_ALIASES,
    DEMO_MODELS,
    deterministic,
    export_programs,
    solve_each,
    split_metrics,
    splits_from_record,
)
from training.commands import verify_version

DEMO = ModelStore(DEFAULT_STORE_ROOT)


@dataclass(frozen=True)
class Measured:
    accuracy: float
    test_size: int
    nfe: list[int]


@pytest.fixture(scope="module")
def measured() -> dict[str, Measured]:
    results = {}
    with deterministic(0):
        for name in DEMO_MODELS:
            manifest = DEMO.verify(name, 1)
            network = load_network(DEMO.version_dir(name, 1), manifest)
            test = splits_from_record(manifest.training).test
            accuracy = split_metrics(network, test, manifest.default_solver).accuracy
            _, nfe = solve_each(network, torch.from_numpy(test.x), manifest.default_solver)
            results[name] = Measured(accuracy, len(test), nfe)
    return results


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_each_demo_model_is_version_1_verified_and_aliased(name):
    assert DEMO.versions(name) == [1]
    assert DEMO.aliases(name) == {LATEST: 1, **DEMO_ALIASES.get(name, {})}
    verify_version(DEMO, name, 1)


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_each_demo_model_was_made_by_its_preset(name):
    """The committed files come from the presets in training/demo.py, not from a hand-run."""
    config, manifest = DEMO_MODELS[name], DEMO.manifest(name, 1)
    record = manifest.training
    assert (record.dataset, record.dataset_params, record.seed) == (
        config.dataset,
        config.dataset_params(),
        config.seed,
    )
    assert (record.epochs, record.learning_rate, record.solver) == (
        config.epochs,
        config.lr,
        config.training_solver(),
    )
    assert manifest.architecture == config.architecture(manifest.input.shape, len(manifest.classes))
    assert manifest.family == ("anode" if name.endswith("-anode") else "node") == config.family


@pytest.mark.parametrize(
    "name, threshold", [("moons-node", 0.99), ("circles-anode", 1.0), ("digits-anode", 0.95)]
)
def test_held_out_accuracy(measured, name, threshold):
    result = measured[name]
    assert result.accuracy >= threshold
    recorded = DEMO.manifest(name, 1).training.metrics["test"].accuracy
    assert result.accuracy == pytest.approx(recorded, abs=1 / result.test_size)  # same split, same answer


def test_anode_needs_fewer_function_evaluations_than_node_on_circles(measured):
    node, anode = DEMO.manifest("circles-node", 1), DEMO.manifest("circles-anode", 1)
    assert node.default_solver == anode.default_solver and node.training.solver == anode.training.solver
    assert (
        node.training.dataset_params == anode.training.dataset_params
        and node.training.seed == anode.training.seed
    )
    assert np.mean(measured["circles-anode"].nfe) < np.mean(measured["circles-node"].nfe)
    assert node.training.nfe.mean > anode.training.nfe.mean


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_recorded_nfe_is_what_the_test_split_costs(measured, name):
    recorded = DEMO.manifest(name, 1).training.nfe
    assert np.mean(measured[name].nfe) == pytest.approx(recorded.mean, rel=0.05)


@pytest.mark.parametrize("name", DEMO_MODELS)
def test_the_shipped_onnx_programs_are_what_the_shipped_weights_export_to(name):
    """Byte for byte: the export is deterministic and carries nothing of the machine that ran it,
    so `make demo-store` anywhere reproduces the committed files."""
    manifest = DEMO.verify(name, 1)
    version = DEMO.version_dir(name, 1)
    programs = export_programs(load_network(version, manifest))
    assert {f: (version / f).read_bytes() == b for f, b in programs.items()} == dict.fromkeys(programs, True)
