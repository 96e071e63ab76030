from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models_store import ArchitectureSpec, Golden, InputSpec, Manifest, SolverDefaults

SPEC = ArchitectureSpec(input_shape=[2], augment_dim=1, num_classes=2)
GOOD = {
    "name": "m",
    "version": 1,
    "created_at": datetime.now(UTC),
    "family": "anode",
    "architecture": SPEC,
    "input": InputSpec(shape=[2]),
    "classes": ["a", "b"],
    "files": {"w.bin": "0" * 64},
}


def test_a_consistent_manifest_round_trips():
    manifest = Manifest(**GOOD)
    assert Manifest.model_validate_json(manifest.model_dump_json()) == manifest
    assert manifest.augment_dim == 1 and manifest.default_solver == SolverDefaults()


@pytest.mark.parametrize(
    "change",
    [
        {"family": "node"},
        {"input": InputSpec(shape=[3])},
        {"classes": ["a", "b", "c"]},
        {"interval": (1.0, 0.0)},
        {"files": {"manifest.json": "0" * 64}},
        {"files": {"w.bin": "not-a-digest"}},
        {"files": {"../escape": "0" * 64}},
        {"name": "Bad Name"},
        {"schema_version": 2},
        {"default_solver": {"rtol": 0}},
        {"surprise": True},
    ],
)
def test_inconsistent_manifests_are_refused(change):
    with pytest.raises(ValidationError):
        Manifest(**{**GOOD, **change})


def test_golden_lengths_must_agree():
    with pytest.raises(ValidationError):
        Golden(inputs=[[0.0]], labels=[0, 1], probabilities=[[1.0, 0.0]], solver=SolverDefaults())
