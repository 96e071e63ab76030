"""The toy datasets (points of the plane in two classes) and the seeded train/val/test split.

Each is a pure function of what a manifest's training record stores (dataset name, params, seed).
Training draws its data from here, and the service regenerates a stored version's points from its
manifest (to draw them over the model's decision surface) without importing training: one
definition, so the points shown are the very points the model was trained and tested on.
Random numbers come from numpy Generators seeded per purpose, never from the global RNG.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ToyGenerator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
"""train, val, test."""
DATA_STREAM, SPLIT_STREAM = 0, 1
"""The seed sequences' second entry: the data and the split draw from independent streams."""


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


def toy_points(name: str, samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole toy dataset ``name``: float32 points [samples, 2] and int64 class indices."""
    x, y = TOY_GENERATORS[name](samples, noise, np.random.default_rng([seed, DATA_STREAM]))
    return x.astype(np.float32), y.astype(np.int64)


def split_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of train, val and test: a seeded permutation cut by ``SPLIT_FRACTIONS`` (no row in two)."""
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n)
    n_val = max(1, round(SPLIT_FRACTIONS[1] * n))
    n_test = max(1, round(SPLIT_FRACTIONS[2] * n))
    train, val, test = np.split(order, [n - n_val - n_test, n - n_test])
    return train, val, test
