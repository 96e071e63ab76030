"""The registry in process: what is loaded, what is refused and why, what a refresh reuses."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixture_store import publish

from models_store import WEIGHTS_FILE, ModelStore
from service.engine import SolverConfig
from service.errors import AliasNotFound, ModelNotFound, StoreUnavailable, VersionNotFound, VersionUnavailable
from service.lifecycle.loading import FailedVersion, LoadedVersion
from service.lifecycle.registry import Registry


@pytest.fixture
def store(store_template: Path, tmp_path: Path) -> ModelStore:
    shutil.copytree(store_template, tmp_path / "store")
    return ModelStore(tmp_path / "store")


@pytest.fixture
def registry(store: ModelStore) -> Registry:
    reg = Registry(store)
    reg.refresh()
    return reg


def _answer(loaded: LoadedVersion) -> np.ndarray:
    cfg = SolverConfig.resolve(loaded.manifest.default_solver)
    return loaded.runner.predict(np.array([[0.5, -0.25]]), cfg).probabilities


def test_loads_every_version_and_refuses_a_failed_self_test(registry: Registry) -> None:
    states = registry.snapshot.states()
    assert sorted(states) == [
        "broken-node/1",
        "circles-anode/1",
        "digits-anode/1",
        "moons-node/1",
        "moons-node/2",
    ]
    broken = states["broken-node/1"]
    assert isinstance(broken, FailedVersion) and broken.reason.startswith("golden self-test failed")
    loaded = states["moons-node/1"]
    assert isinstance(loaded, LoadedVersion) and loaded.baseline.nfe_mean > 0 and loaded.baseline.samples == 8


def test_resolve_by_number_alias_and_latest(registry: Registry) -> None:
    assert registry.resolve("moons-node").version == 2
    assert registry.resolve("moons-node", "stable").version == 1
    assert registry.resolve("moons-node", "1").version == 1
    for name, ref, error in [
        ("nope", None, ModelNotFound),
        ("moons-node", "5", VersionNotFound),
        ("moons-node", "prod", AliasNotFound),
        ("broken-node", None, VersionUnavailable),
    ]:
        with pytest.raises(error):
            registry.resolve(name, ref)


def test_an_unchanged_store_reuses_every_object(registry: Registry) -> None:
    before = registry.snapshot.states()
    changes = registry.refresh()
    after = registry.snapshot.states()
    assert all(after[k] is before[k] for k in before)
    assert changes.loaded == [] and changes.failed == [] and changes.removed == []


def test_new_metadata_with_an_unchanged_digest_keeps_the_runner(
    registry: Registry, store: ModelStore
) -> None:
    old = registry.resolve("moons-node", "1")
    os.utime(store.root / "moons-node" / "1" / WEIGHTS_FILE)
    changes = registry.refresh()
    new = registry.resolve("moons-node", "1")
    assert new is not old and new.runner is old.runner and changes.loaded == []


def test_an_in_flight_version_survives_a_swap(registry: Registry, store: ModelStore) -> None:
    held = registry.resolve("moons-node")
    expected = _answer(held)
    publish(store, "moons-node", seed=40)
    registry.refresh()
    assert registry.resolve("moons-node").version == 3
    assert held.version == 2 and np.array_equal(_answer(held), expected)


def test_tampered_weights_are_refused_others_untouched(registry: Registry, store: ModelStore) -> None:
    before = registry.snapshot.states()
    path = store.root / "moons-node" / "2" / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    changes = registry.refresh()
    assert [f.key for f in changes.failed] == ["moons-node/2"]
    failed = registry.snapshot.states()["moons-node/2"]
    assert isinstance(failed, FailedVersion) and WEIGHTS_FILE in failed.reason
    assert registry.snapshot.states()["moons-node/1"] is before["moons-node/1"]


def test_full_refresh_rehashes_even_when_metadata_is_unchanged(registry: Registry, store: ModelStore) -> None:
    path = store.root / "circles-anode" / "1" / WEIGHTS_FILE
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a careful tamperer restores the mtime
    registry.refresh()
    registry.refresh(full=True)
    assert registry.snapshot.states()["circles-anode/1"].status == "failed"


def test_removed_models_and_missing_stores(registry: Registry, store: ModelStore, tmp_path: Path) -> None:
    shutil.rmtree(store.root / "digits-anode")
    assert registry.refresh().removed == ["digits-anode/1"]
    empty = Registry(ModelStore(tmp_path / "no-such-store"))
    with pytest.raises(StoreUnavailable):  # a missing store is a fault to report, not an empty store
        empty.refresh()
    assert empty.snapshot.models == {}
