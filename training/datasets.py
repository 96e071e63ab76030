"""The datasets a model can be trained on, and the seeded train/val/test split.

Every dataset is a pure function of ``(name, params, seed)``, the three things a manifest's
training record stores, so a test split can be regenerated later to re-check a stored model.
Random numbers come from numpy Generators seeded per purpose, never from the global RNG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from models_store import TrainingRecord

from .errors import DataError
from .userdata import read_csv, read_npz

Params = Mapping[str, float | int | str | bool | None]
ToyGenerator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
_DATA_STREAM, _SPLIT_STREAM = 0, 1
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


def make_moons(samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, with uniform noise of magnitude ``noise`` (as in the tutorial)."""
    n_out = samples // 2
    n_in = samples - n_out
    theta_out, theta_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    outer = np.stack([np.cos(theta_out), np.sin(theta_out)], axis=1)
    inner = np.stack([1 - np.cos(theta_in), 1 - np.sin(theta_in) - 0.5], axis=1)
    x = np.concatenate([outer, inner]) + noise * rng.random((samples, 2))
    return x, np.concatenate([np.zeros(n_out), np.ones(n_in)])


def make_circles(samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 on the circle of radius 0.5 inside class 0 at radius 1.0, plus gaussian noise.

    A plain Neural ODE cannot map one into the other without crossing trajectories (Dupont et al.
    2019), which is why this set shows what augmentation buys.
    """
    n_in = samples // 2
    directions = rng.standard_normal((samples, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = np.where(np.arange(samples) < n_in, 0.5, 1.0)[:, None]
    x = radius * directions + noise * rng.standard_normal((samples, 2))
    return x, (np.arange(samples) < n_in).astype(np.int64)


def make_spirals(samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.5 turns each, scaled into the unit disc, gaussian noise."""
    n0 = samples // 2
    turns = 3 * np.pi * np.sqrt(rng.random(samples))
    arm = np.stack([turns * np.cos(turns), turns * np.sin(turns)], axis=1) / (3 * np.pi)
    sign = np.where(np.arange(samples) < n0, 1.0, -1.0)[:, None]
    x = sign * arm + noise * rng.standard_normal((samples, 2))
    return x, (np.arange(samples) >= n0).astype(np.int64)


TOY_GENERATORS: dict[str, ToyGenerator] = {
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
}
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "spirals": 0.05}
DatasetName = Literal["moons", "circles", "spirals", "digits", "csv", "npz"]
DATASETS: tuple[str, ...] = get_args(DatasetName)


def _toy(name: str, params: Params, seed: int) -> Dataset:
    samples, noise = params["samples"], params["noise"]
    if samples is None or noise is None:
        raise DataError(f"dataset {name} needs samples and noise, got {samples!r} and {noise!r}")
    x, y = TOY_GENERATORS[name](int(samples), float(noise), np.random.default_rng([seed, _DATA_STREAM]))
    return Dataset(x.astype(np.float32), y.astype(np.int64), ["0", "1"], ["x", "y"])


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
    n = len(dataset.y)
    order = np.random.default_rng([seed, _SPLIT_STREAM]).permutation(n)
    n_val = max(1, round(SPLIT_FRACTIONS[1] * n))
    n_test = max(1, round(SPLIT_FRACTIONS[2] * n))
    parts = np.split(order, [n - n_val - n_test, n - n_test])
    train, val, test = (Split(dataset.x[idx], dataset.y[idx]) for idx in parts)
    return Splits(train, val, test)
