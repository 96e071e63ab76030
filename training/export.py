"""Turn a trained network into a published store version: files, manifest, one atomic publish.

Everything a reader needs to trust the version is measured here, at the manifest's default
(serving) solver: split metrics, per-sample NFE over the test split, golden answers, and ONNX
programs that were checked against torch before they were written.
"""

from __future__ import annotations

import math
import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Literal

import torch

from models_store import (
    GOLDEN_FILE,
    MAX_HISTORY,
    WEIGHTS_FILE,
    EpochRecord,
    InputSpec,
    Manifest,
    ModelStore,
    OdeClassifier,
    SolverDefaults,
    TrainingRecord,
    weights_to_bytes,
)

from .config import TrainConfig
from .datasets import Dataset, Splits
from .evaluation import nfe_stats, solve_each, split_metrics
from .golden import make_golden
from .onnx_programs import export_programs
from .trainer import EpochStats, TrainResult

_SPLITS: tuple[Literal["train", "val", "test"], ...] = ("train", "val", "test")
_LIBRARIES = ("torch", "torchdiffeq", "onnx", "onnxruntime", "numpy", "safetensors", "scikit-learn")


def library_versions() -> dict[str, str]:
    """Versions of what produced the files, so a drift in results can be traced to an upgrade."""
    return {"python": platform.python_version(), **{name: metadata.version(name) for name in _LIBRARIES}}


def epoch_records(history: list[EpochStats], limit: int = MAX_HISTORY) -> list[EpochRecord]:
    """The history as the manifest keeps it: every epoch, or for runs longer than ``limit`` every
    k-th one and the last, so the manifest stays small; a number that is not finite becomes null."""
    stride = math.ceil(len(history) / limit) if history else 1
    kept = [stats for i, stats in enumerate(history) if i % stride == 0 or i == len(history) - 1]
    return [_epoch_record(stats) for stats in kept[-limit:]]


def _epoch_record(stats: EpochStats) -> EpochRecord:
    val = stats.val if math.isfinite(stats.val.loss) else None
    loss = stats.loss if math.isfinite(stats.loss) else None
    return EpochRecord(epoch=stats.epoch, loss=loss, accuracy=stats.accuracy, nfe=stats.nfe, val=val)


def training_record(config: TrainConfig, splits: Splits, result: TrainResult) -> TrainingRecord:
    """How the version was made and how it scores on every split at the serving solver."""
    solver = config.serving_solver()
    network = result.network
    metrics = {part: split_metrics(network, getattr(splits, part), solver) for part in _SPLITS}
    _, nfe = solve_each(network, torch.from_numpy(splits.test.x), solver)
    return TrainingRecord(
        dataset=config.dataset,
        dataset_params=config.dataset_params(),
        seed=config.seed,
        split_sizes=splits.sizes(),
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.lr,
        solver=config.training_solver(),
        adjoint=config.adjoint,
        kinetic_energy=config.kinetic_energy,
        metrics=metrics,
        nfe=nfe_stats(nfe),
        duration_s=result.duration_s,
        history=epoch_records(result.history),
    )


def version_files(
    network: OdeClassifier, splits: Splits, solver: SolverDefaults, seed: int
) -> dict[str, bytes]:
    """Weights, the checked ONNX programs and the golden answers, as bytes."""
    golden = make_golden(network, torch.from_numpy(splits.test.x), solver)
    return {
        WEIGHTS_FILE: weights_to_bytes(network),
        **export_programs(network, seed),
        GOLDEN_FILE: (golden.model_dump_json(indent=1) + "\n").encode(),
    }


def publish(
    store: ModelStore, config: TrainConfig, dataset: Dataset, splits: Splits, result: TrainResult
) -> Manifest:
    """Publish the trained network as the next version of ``config.model_name``."""
    record = training_record(config, splits, result)
    files = version_files(result.network, splits, config.serving_solver(), config.seed)
    libraries = library_versions()

    def make_manifest(version: int, digests: dict[str, str]) -> Manifest:
        return Manifest(
            name=config.model_name,
            version=version,
            created_at=datetime.now(UTC),
            family=config.family,
            architecture=result.network.spec,
            input=InputSpec(shape=dataset.input_shape, feature_names=dataset.feature_names),
            classes=dataset.classes,
            default_solver=config.serving_solver(),
            training=record,
            files=digests,
            libraries=libraries,
            description=config.description or f"{config.family.upper()} on {config.dataset}",
        )

    return store.publish(config.model_name, files, make_manifest)
