"""A small but complete stored version built through models_store's API, without training.

Also a script: ``python store_fakes.py ROOT NAME MODE BARRIER`` publishes one version from a
separate process (MODE ``race``: wait at a two-process barrier inside make_manifest; ``hang``:
say "ready" inside make_manifest, then block until killed) and prints the version it got.
The MODEs ``before-rename``, ``after-rename`` and ``before-replace`` say "ready" and block at
that point of the real publish: just before or after the ``os.rename`` of the version folder,
or just before the ``os.replace`` of aliases.json, so a SIGKILL leaves exactly that state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

from models_store import (
    GOLDEN_FILE,
    ONNX_FILES,
    WEIGHTS_FILE,
    ArchitectureSpec,
    FieldSpec,
    Golden,
    InputSpec,
    Manifest,
    ModelStore,
    SolverDefaults,
    build_network,
    weights_to_bytes,
)

SPEC = ArchitectureSpec(input_shape=[2], augment_dim=1, field=FieldSpec(hidden=[8]), num_classes=2)
BARRIER_TIMEOUT_S = 120


def version_files(seed: int = 0) -> dict[str, bytes]:
    torch.manual_seed(seed)
    golden = Golden(
        inputs=[[0.0, 1.0]], labels=[0], probabilities=[[0.75, 0.25]], solver=SolverDefaults(), nfe=[14]
    )
    return {
        WEIGHTS_FILE: weights_to_bytes(build_network(SPEC)),
        **{name: f"placeholder program {name}".encode() for name in ONNX_FILES},
        GOLDEN_FILE: golden.model_dump_json().encode(),
    }


def manifest_factory(name: str, before: Callable[[int], None] = lambda version: None):
    def make_manifest(version: int, digests: dict[str, str]) -> Manifest:
        before(version)
        return Manifest(
            name=name,
            version=version,
            created_at=datetime.now(UTC),
            family="anode",
            architecture=SPEC,
            input=InputSpec(shape=[2]),
            classes=["a", "b"],
            files=digests,
        )

    return make_manifest


def publish_fake(store: ModelStore, name: str, seed: int = 0) -> Manifest:
    return store.publish(name, version_files(seed), manifest_factory(name))


REPO = Path(__file__).resolve().parents[1]


def spawn_publish(root: Path, name: str, mode: str, barrier: Path) -> subprocess.Popen[str]:
    """This file as a script: a real publish of ``name`` into ``root`` from another process.

    ``-P``: the script's folder (tests/) must not go first on ``sys.path``, where its
    ``models_store`` test folder would shadow the package.
    """
    return subprocess.Popen(
        [sys.executable, "-P", __file__, str(root), name, mode, str(barrier)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def kill_publish(root: Path, name: str, mode: str, barrier: Path) -> None:
    """A real publish in another process, SIGKILLed where ``mode`` stops it: the state it leaves
    on disk is exactly what a kill at that point of the real code leaves."""
    child = spawn_publish(root, name, mode, barrier)
    try:
        assert child.stdout is not None
        ready = child.stdout.readline().strip()
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=60)
    assert ready == "ready", err


def _wait_for_both(barrier: Path, version: int) -> None:
    """Both publishers reach make_manifest holding the same candidate number before either renames."""
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(list(barrier.iterdir())) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the other publisher never arrived")
        time.sleep(0.01)


def _hang(version: int) -> None:
    print("ready", flush=True)
    time.sleep(3600)


def _stop_at(mode: str) -> None:
    """Wrap the one system call the mode names so the publish blocks right there."""
    call = "rename" if mode.endswith("rename") else "replace"
    real = getattr(os, call)

    def wrapped(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        target = Path(dst).name
        ours = target.isdigit() if call == "rename" else target == "aliases.json"
        if ours and mode != "after-rename":
            _hang(0)
        real(src, dst)
        if ours:
            _hang(0)

    setattr(os, call, wrapped)


def _child(root: str, name: str, mode: str, barrier: str) -> None:
    calls: list[int] = []
    if mode in ("before-rename", "after-rename", "before-replace"):
        _stop_at(mode)

    def before(version: int) -> None:
        calls.append(version)
        if len(calls) > 1:
            return
        if mode == "race":
            _wait_for_both(Path(barrier), version)
        elif mode == "hang":
            _hang(version)

    manifest = ModelStore(root).publish(name, version_files(), manifest_factory(name, before))
    print(manifest.version, flush=True)


if __name__ == "__main__":
    _child(*sys.argv[1:5])
