from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_fakes import kill_publish, manifest_factory, publish_fake, spawn_publish, version_files

from models_store import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    IntegrityError,
    InvalidName,
    ModelNotFound,
    ModelStore,
    PublishError,
    VersionNotFound,
)

NOBODY = 65534


def _spawn(store: ModelStore, mode: str, barrier: Path) -> subprocess.Popen[str]:
    return spawn_publish(store.root, "fake-node", mode, barrier)


def _kill_at(store: ModelStore, mode: str, tmp_path: Path) -> None:
    """Publish from another process and SIGKILL it where ``mode`` stops it (see store_fakes)."""
    kill_publish(store.root, "fake-node", mode, tmp_path)


def _temporaries(store: ModelStore) -> list[Path]:
    return sorted(p for p in (store.root / "fake-node").iterdir() if p.name.startswith(".tmp-"))


def _stored_aliases(store: ModelStore) -> dict:
    return json.loads((store.root / "fake-node" / "aliases.json").read_text())


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A trainer whose umask shares nothing: what a publish makes must be readable by others anyway."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def test_publish_numbers_versions_and_moves_latest(store):
    assert [publish_fake(store, "fake-node", seed).version for seed in (0, 1)] == [1, 2]
    assert store.list_models() == ["fake-node"]
    assert store.versions("fake-node") == [1, 2]
    assert store.aliases("fake-node") == {"latest": 2}
    assert store.resolve("fake-node") == 2


def test_a_published_version_is_readable_by_other_users(published):
    assert published.version_dir("fake-node", 1).stat().st_mode & 0o755 == 0o755


def test_everything_a_publish_creates_is_readable_by_others(store, strict_umask):
    publish_fake(store, "fake-node")
    publish_fake(store, "fake-node", seed=1)
    store.set_alias("fake-node", "stable", 1)
    modes = {}
    for folder, _, files in os.walk(store.root):
        for path in [Path(folder), *(Path(folder, f) for f in files)]:
            modes[str(path.relative_to(store.root))] = stat.S_IMODE(path.lstat().st_mode)
    assert {"fake-node/aliases.json", "fake-node/.lock", "fake-node/2/manifest.json"} <= set(modes)
    needed = {path: 0o755 if (store.root / path).is_dir() else 0o644 for path in modes}
    assert {path: oct(mode) for path, mode in modes.items() if mode & needed[path] != needed[path]} == {}


def _as_nobody(action: Callable[[], object]) -> str:
    """``repr`` of what ``action`` returns (or the error it raises) in a forked child become nobody."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])  # root's groups would let it read what only root's group may
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = repr(action())
            except Exception as exc:
                answer = f"{type(exc).__name__}: {exc}"
            os.write(write_end, answer.encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        answer = fh.read().decode()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, answer
    return answer


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user (setuid to nobody) needs root, as in CI")
def test_another_user_lists_resolves_and_verifies_a_published_store(strict_umask):
    shared = Path(tempfile.mkdtemp())  # pytest's tmp_path is 0700: nobody could not even reach it
    try:
        shared.chmod(0o755)  # the test's own folder; everything inside is made by publish
        store = ModelStore(shared / "store")
        publish_fake(store, "fake-node")
        publish_fake(store, "fake-node", seed=1)
        store.set_alias("fake-node", "stable", 1)

        def read() -> object:
            other = ModelStore(store.root)
            verified = [other.verify("fake-node", v).version for v in (1, 2)]
            return other.list_models(), other.aliases("fake-node"), verified

        assert _as_nobody(read) == repr((["fake-node"], {"latest": 2, "stable": 1}, [1, 2]))
    finally:
        shutil.rmtree(shared)


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
    assert [p.name for p in (store.root / "fake-node").iterdir()] == [".lock"]  # the lock file, nothing else


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


def test_a_live_publishers_folder_survives_a_concurrent_publish_and_a_dead_ones_does_not(published, tmp_path):
    child = _spawn(published, "hang", tmp_path)
    try:
        assert child.stdout.readline().strip() == "ready"
        live = _temporaries(published)
        assert len(live) == 1 and (live[0] / WEIGHTS_FILE).is_file()
        assert published.leftovers("fake-node") == []
        assert publish_fake(published, "fake-node", seed=1).version == 2
        assert _temporaries(published) == live
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    assert published.leftovers("fake-node") == live
    assert publish_fake(published, "fake-node", seed=2).version == 3
    assert _temporaries(published) == [] and published.leftovers("fake-node") == []


@pytest.mark.parametrize("mode", ["hang", "before-replace", "before-rename"])
def test_a_publish_killed_before_its_rename_moves_nothing_and_is_swept_by_the_next(published, tmp_path, mode):
    published.set_alias("fake-node", "stable", 1)
    _kill_at(published, mode, tmp_path)
    assert published.versions("fake-node") == [1]
    assert published.aliases("fake-node") == {"latest": 1, "stable": 1}
    assert published.leftovers("fake-node") == _temporaries(published) != []
    # the next publish takes the dead one's number but holds it back: a stale journal must not move latest
    published.publish("fake-node", version_files(1), manifest_factory("fake-node"), move_latest=False)
    assert published.versions("fake-node") == [1, 2]
    assert published.aliases("fake-node") == {"latest": 1, "stable": 1}
    assert _stored_aliases(published) == {"latest": 1, "stable": 1}
    assert _temporaries(published) == []


def test_a_publish_killed_right_after_its_rename_still_makes_its_version_latest(published, tmp_path):
    published.set_alias("fake-node", "stable", 1)
    _kill_at(published, "after-rename", tmp_path)
    assert published.versions("fake-node") == [1, 2] and _temporaries(published) == []
    assert published.resolve("fake-node") == 2
    assert published.verify("fake-node", "latest").version == 2
    assert published.aliases("fake-node") == {"latest": 2, "stable": 1}  # what the service reads
    published.set_alias("fake-node", "canary", 1)  # the next writer settles the journal
    assert _stored_aliases(published) == {"canary": 1, "latest": 2, "stable": 1}
    published.set_alias("fake-node", "latest", 1)  # and rolling latest back still holds
    assert published.resolve("fake-node") == 1
    assert publish_fake(published, "fake-node", seed=1).version == 3
    assert published.resolve("fake-node") == 3
