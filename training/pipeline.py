"""Data -> network -> trained network -> published version: the one path every model takes."""

from __future__ import annotations

from rich.console import Console

from models_store import Manifest, ModelStore

from .config import TrainConfig
from .datasets import load_dataset, split_dataset
from .export import publish
from .trainer import deterministic, train


def train_and_publish(config: TrainConfig, store: ModelStore, console: Console | None = None) -> Manifest:
    """Load and split the data, train, measure, export and publish; nothing is published on error."""
    dataset = load_dataset(config.dataset, config.dataset_params(), config.seed)
    splits = split_dataset(dataset, config.seed)
    spec = config.architecture(dataset.input_shape, len(dataset.classes))
    result = train(config, splits, spec, console)
    with deterministic(config.seed):
        return publish(store, config, dataset, splits, result)
