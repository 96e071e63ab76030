from __future__ import annotations

import numpy as np
import pytest

from models_store.toy_data import SPLIT_FRACTIONS, TOY_GENERATORS, make_circles, make_moons, make_spirals
from training import DataError, load_dataset, split_dataset

TOYS = sorted(TOY_GENERATORS)


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_are_balanced_float32_points(name):
    data = load_dataset(name, {"samples": 301, "noise": 0.1}, seed=0)
    assert data.x.shape == (301, 2) and data.x.dtype == np.float32
    assert data.classes == ["0", "1"] and data.feature_names == ["x", "y"]
    assert abs(int(data.y.sum()) - 150) <= 1


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_depend_on_the_seed_only(name):
    params = {"samples": 100, "noise": 0.1}
    first, again, other = (load_dataset(name, params, seed) for seed in (3, 3, 4))
    assert np.array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)


def test_moons_noise_is_uniform_and_positive_as_in_the_tutorial():
    rng = np.random.default_rng(0)
    clean, y = make_moons(200, 0.0, rng)
    noisy, _ = make_moons(200, 0.1, rng)
    offset = noisy - clean
    assert (offset >= 0).all() and (offset < 0.1).all()
    assert np.allclose(np.linalg.norm(clean[y == 0], axis=1), 1.0)


def test_circles_put_class_one_inside():
    x, y = make_circles(400, 0.0, np.random.default_rng(0))
    radius = np.linalg.norm(x, axis=1)
    assert np.allclose(radius[y == 1], 0.5) and np.allclose(radius[y == 0], 1.0)


def test_spirals_are_point_reflections_of_each_other():
    x, y = make_spirals(400, 0.0, np.random.default_rng(0))
    radius = np.linalg.norm(x, axis=1)
    assert radius.max() <= 1.0 and set(y.tolist()) == {0, 1}
    theta = np.arctan2(x[:, 1], x[:, 0])
    # class 0 follows (r cos 3πr, r sin 3πr); class 1 is the same arm rotated by π
    expected = np.angle(np.exp(1j * (3 * np.pi * radius + np.pi * y)))
    assert np.allclose(np.angle(np.exp(1j * (theta - expected))), 0, atol=1e-6)


def test_digits_are_scaled_images():
    data = load_dataset("digits", {}, seed=0)
    assert data.x.shape[1:] == (1, 8, 8) and data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.classes == [str(d) for d in range(10)]


def test_split_is_seeded_disjoint_and_complete():
    data = load_dataset("moons", {"samples": 200, "noise": 0.1}, seed=0)
    splits = split_dataset(data, seed=5)
    assert splits.sizes() == {"train": 140, "val": 30, "test": 30}
    assert [round(f * 200) for f in SPLIT_FRACTIONS] == [140, 30, 30]
    rows = np.concatenate([splits.train.x, splits.val.x, splits.test.x])
    assert np.array_equal(np.unique(rows, axis=0), np.unique(data.x, axis=0))
    assert np.array_equal(split_dataset(data, seed=5).test.x, splits.test.x)
    assert not np.array_equal(split_dataset(data, seed=6).test.x, splits.test.x)


@pytest.mark.parametrize("samples", [5, 0])
def test_too_few_samples_is_a_data_error(samples):
    with pytest.raises(DataError, match="samples"):
        load_dataset("moons", {"samples": samples, "noise": 0.1}, seed=0)
