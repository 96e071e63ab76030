from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models_store import (
    MAX_HISTORY,
    SERVED_METHODS,
    ArchitectureSpec,
    Golden,
    InputSpec,
    Manifest,
    NfeStats,
    SolverDefaults,
    SplitMetrics,
    TrainingRecord,
)
from models_store.integrity import MAX_MANIFEST_BYTES

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


@pytest.mark.parametrize(
    "method, says",
    [
        ("rk45", "unknown solver method 'rk45'; served methods: dopri5"),
        ("explicit_adams", "'explicit_adams' is not served: torchdiffeq 0.2.5 gives wrong answers"),
        ("scipy_solver", "'scipy_solver' is not served: .* no step limit"),
    ],
)
def test_a_default_method_the_service_would_not_run_is_refused_with_the_reason(method, says):
    with pytest.raises(ValidationError, match=says) as caught:
        Manifest(**{**GOOD, "default_solver": {"method": method}})
    assert caught.value.errors()[0]["loc"] == ("default_solver", "method")


@pytest.mark.parametrize("method", SERVED_METHODS)
def test_every_served_method_may_be_a_default(method):
    assert Manifest(**{**GOOD, "default_solver": {"method": method}}).default_solver.method == method


TRAINING = {
    "dataset": "moons",
    "seed": 0,
    "epochs": 3,
    "batch_size": 32,
    "learning_rate": 0.01,
    "solver": SolverDefaults(),
    "metrics": {"test": SplitMetrics(accuracy=1.0, loss=0.1)},
    "nfe": NfeStats(mean=20, p50=20, p95=26),
}


def _epoch(n: int, loss: float | None = 0.5) -> dict:
    return {"epoch": n, "loss": loss, "accuracy": 0.9, "nfe": 26.0, "val": {"accuracy": 0.8, "loss": 0.6}}


def test_a_training_record_written_before_history_still_reads():
    assert TrainingRecord(**TRAINING).history == []


@pytest.mark.parametrize(
    "history",
    [
        [_epoch(2), _epoch(1)],
        [_epoch(1), _epoch(1)],
        [_epoch(4)],
        [_epoch(0)],
        [{**_epoch(1), "accuracy": 1.5}],
        [_epoch(1, loss=float("nan"))],
    ],
    ids=["backwards", "twice", "past-epochs", "epoch-0", "accuracy-over-1", "nan-loss"],
)
def test_a_history_out_of_order_or_out_of_bounds_is_refused(history):
    with pytest.raises(ValidationError):
        TrainingRecord(**TRAINING, history=history)


def test_the_longest_history_keeps_the_manifest_under_its_size_limit():
    epochs = MAX_HISTORY
    record = TrainingRecord(
        **{**TRAINING, "epochs": epochs}, history=[_epoch(n, loss=1 / 3) for n in range(1, epochs + 1)]
    )
    manifest = Manifest(**GOOD, training=record)
    assert len(manifest.model_dump_json(indent=2)) < MAX_MANIFEST_BYTES // 2
    with pytest.raises(ValidationError):
        TrainingRecord(
            **{**TRAINING, "epochs": epochs + 1}, history=[_epoch(n) for n in range(1, epochs + 2)]
        )
