from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from store_fakes import manifest_factory, publish_fake, version_files

from models_store import (
    MANIFEST_FILE,
    IntegrityError,
    InvalidName,
    ModelNotFound,
    ModelStore,
    PublishError,
    VersionNotFound,
)

CHILD = Path(__file__).with_name("store_fakes.py")
REPO = Path(__file__).resolve().parents[2]


def _spawn(store: ModelStore, mode: str, barrier: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(store.root), "fake-node", mode, str(barrier)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def test_publish_numbers_versions_and_moves_latest(store):
    assert [publish_fake(store, "fake-node", seed).version for seed in (0, 1)] == [1, 2]
    assert store.list_models() == ["fake-node"]
    assert store.versions("fake-node") == [1, 2]
    assert store.aliases("fake-node") == {"latest": 2}
    assert store.resolve("fake-node") == 2


def test_a_published_version_is_readable_by_other_users(published):
    assert published.version_dir("fake-node", 1).stat().st_mode & 0o755 == 0o755


def test_publish_without_moving_latest(published):
    published.publish("fake-node", version_files(), manifest_factory("fake-node"), move_latest=False)
    assert published.versions("fake-node") == [1, 2]
    assert published.resolve("fake-node", "latest") == 1


def test_manifest_round_trips(published):
    manifest = published.verify("fake-node", 1)
    assert manifest == published.manifest("fake-node", "latest")
    assert set(manifest.files) == set(version_files())


def test_aliases_set_follow_and_remove(published):
    publish_fake(published, "fake-node", seed=1)
    assert published.set_alias("fake-node", "stable", 1) == 1
    assert published.set_alias("fake-node", "canary", "latest") == 2
    assert published.aliases("fake-node") == {"canary": 2, "latest": 2, "stable": 1}
    published.remove_alias("fake-node", "stable")
    with pytest.raises(VersionNotFound):
        published.resolve("fake-node", "stable")


@pytest.mark.parametrize("alias", ["7", "Bad", "latest!"])
def test_bad_alias_names_are_refused(published, alias):
    with pytest.raises(InvalidName):
        published.set_alias("fake-node", alias, 1)


def test_latest_cannot_be_removed(published):
    with pytest.raises(InvalidName):
        published.remove_alias("fake-node", "latest")


@pytest.mark.parametrize(
    "name, ref, error",
    [
        ("nothing", None, ModelNotFound),
        ("fake-node", 9, VersionNotFound),
        ("fake-node", "gone", VersionNotFound),
        ("../etc", None, InvalidName),
        ("fake-node", "0", InvalidName),
    ],
)
def test_resolve_errors(published, name, ref, error):
    with pytest.raises(error):
        published.resolve(name, ref)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_corrupt_aliases_file_is_an_integrity_error_naming_it(published, content):
    (published.root / "fake-node" / "aliases.json").write_text(content)
    with pytest.raises(IntegrityError) as info:
        published.aliases("fake-node")
    assert info.value.filename == "aliases.json"


@pytest.mark.parametrize("bad_field", ["version", "name"])
def test_a_lying_manifest_factory_publishes_nothing(store, bad_field):
    honest = manifest_factory("fake-node")

    def lying(version, digests):
        manifest = honest(version, digests)
        return manifest.model_copy(update={bad_field: {"version": version + 1, "name": "other"}[bad_field]})

    with pytest.raises(PublishError):
        store.publish("fake-node", version_files(), lying)
    assert store.versions("fake-node") == []
    assert list((store.root / "fake-node").iterdir()) == []


def test_files_may_not_include_the_manifest(store):
    with pytest.raises(PublishError):
        store.publish("fake-node", {MANIFEST_FILE: b"{}"}, manifest_factory("fake-node"))


def test_two_processes_publishing_at_once_get_two_complete_versions(store, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    children = [_spawn(store, "race", barrier) for _ in range(2)]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    assert sorted(int(out) for out, _ in outputs) == [1, 2]
    assert store.versions("fake-node") == [1, 2]
    assert [store.verify("fake-node", v).version for v in (1, 2)] == [1, 2]
    assert store.aliases("fake-node") == {"latest": 2}


def test_a_publisher_killed_mid_publish_leaves_no_visible_version(published, tmp_path):
    child = _spawn(published, "hang", tmp_path)
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    model_dir = published.root / "fake-node"
    leftovers = [p for p in model_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers and all(
        (p / "weights.safetensors").is_file() for p in leftovers
    )  # it really was mid-way
    assert published.versions("fake-node") == [1]
    assert published.verify("fake-node", 1).version == 1
    assert json.loads((model_dir / "aliases.json").read_text()) == {"latest": 1}
    assert publish_fake(published, "fake-node", seed=1).version == 2
