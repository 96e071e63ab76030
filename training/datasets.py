"""The datasets a model can be trained on, and the seeded train/val/test split.

Every dataset is a pure function of ``(name, params, seed)``, the three things a manifest's
training record stores, so a test split can be regenerated later to re-check a stored model.
The toy sets and the split live in :mod:`models_store.toy_data`, where the service (which may
not import training) regenerates them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from models_store import TOY_GENERATORS, TrainingRecord, split_rows, toy_points

from .errors import DataError
from .userdata import read_csv, read_npz

Params = Mapping[str, float | int | str | bool | None]

_MIN_SAMPLES = 10


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (float32, [N, *input_shape]), class indices ``y`` and what they mean."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    feature_names: list[str] | None = None

    @property
    def input_shape(self) -> list[int]:
        return list(self.x.shape[1:])


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


DatasetName = Literal["moons", "circles", "spirals", "digits", "csv", "npz"]
DATASETS: tuple[str, ...] = get_args(DatasetName)


def _toy(name: str, params: Params, seed: int) -> Dataset:
    samples, noise = params["samples"], params["noise"]
    if samples is None or noise is None:
        raise DataError(f"dataset {name} needs samples and noise, got {samples!r} and {noise!r}")
    x, y = toy_points(name, int(samples), float(noise), seed)
    return Dataset(x, y, ["0", "1"], ["x", "y"])


def _digits() -> Dataset:
    """scikit-learn's 8x8 digits (shipped with it, no download), scaled to [0, 1], shape [1, 8, 8]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    return Dataset(x, bunch.target.astype(np.int64), [str(c) for c in range(10)])


def load_dataset(name: str, params: Params, seed: int) -> Dataset:
    """The whole dataset ``name`` with ``params`` (see TrainConfig.dataset_params)."""
    if name in TOY_GENERATORS:
        dataset = _toy(name, params, seed)
    elif name == "digits":
        dataset = _digits()
    elif name == "csv":
        dataset = Dataset(*read_csv(Path(str(params["path"])), str(params["label_column"])))
    elif name == "npz":
        dataset = Dataset(*read_npz(Path(str(params["path"]))))
    else:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return _checked(dataset)


def _checked(dataset: Dataset) -> Dataset:
    if len(dataset.y) < _MIN_SAMPLES:
        raise DataError(f"the dataset has {len(dataset.y)} samples; at least {_MIN_SAMPLES} are needed")
    if len(dataset.classes) < 2:
        raise DataError(f"the dataset has one class ({dataset.classes[0]!r}); at least two are needed")
    return dataset


def splits_from_record(record: TrainingRecord) -> Splits:
    """The very splits a stored model was trained and tested on, from its manifest's record."""
    return split_dataset(load_dataset(record.dataset, record.dataset_params, record.seed), record.seed)


def split_dataset(dataset: Dataset, seed: int) -> Splits:
    """A seeded random split into train/val/test by ``SPLIT_FRACTIONS`` (no sample in two parts)."""
    parts = split_rows(len(dataset.y), seed)
    train, val, test = (Split(dataset.x[idx], dataset.y[idx]) for idx in parts)
    return Splits(train, val, test)
