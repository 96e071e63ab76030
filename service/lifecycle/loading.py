"""Loading one stored version: verify every file, rebuild the network, pass the golden self-test.

A version is served only when its files match their sha256, its network rebuilds, and re-solving
its golden inputs with the golden's own solver gives the same labels and probabilities (within
:data:`GOLDEN_TOLERANCE`). Its golden NFE at the default solver is the baseline for drift alerts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from models_store import (
    FIELD_ONNX,
    MANIFEST_FILE,
    Golden,
    Manifest,
    ModelStore,
    StoreError,
    load_golden,
    load_network,
    sha256_file,
)
from service.engine import BackendName, ModelRunner, SolverConfig

log = logging.getLogger(__name__)

GOLDEN_TOLERANCE = 1e-4
"""Largest difference allowed between stored and re-solved golden probabilities."""

Fingerprint = tuple[tuple[str, int, int, int, int], ...]
"""(file name, size, mtime_ns, ctime_ns, inode) of every file in a version folder: a cheap change
detector. ctime cannot be set back by a writer (mtime can), so bytes changed in place are noticed."""


class SelfTestFailed(Exception):
    """The re-solved golden answers disagree with the stored ones."""


@dataclass(frozen=True, eq=False)
class Baseline:
    """Mean per-sample NFE of the golden inputs at the model's default solver."""

    nfe_mean: float
    samples: int
    solver: SolverConfig


@dataclass(frozen=True, eq=False)
class LoadedVersion:
    """A servable version. Requests hold a reference, so a registry swap never pulls it away mid-call."""

    name: str
    version: int
    manifest: Manifest
    digest: str
    fingerprint: Fingerprint
    runner: ModelRunner = field(repr=False)
    baseline: Baseline
    status: ClassVar[Literal["loaded"]] = "loaded"
    reason: ClassVar[None] = None

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, eq=False)
class FailedVersion:
    """A version that is not served, and why."""

    name: str
    version: int
    reason: str
    fingerprint: Fingerprint
    manifest: Manifest | None = None
    status: ClassVar[Literal["failed"]] = "failed"

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


VersionState = LoadedVersion | FailedVersion


def fingerprint(folder: Path) -> Fingerprint:
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            entries.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(sorted(entries))


def refresh_version(
    store: ModelStore,
    name: str,
    version: int,
    previous: VersionState | None,
    *,
    full: bool,
    backend: BackendName = "auto",
) -> VersionState:
    """The version's state now; reuses ``previous`` when nothing changed (or only file metadata did).

    Unchanged fingerprints skip all work unless ``full``; a loaded version whose files still verify
    and whose manifest digest is unchanged keeps its runner (it is not rebuilt).
    """
    folder = store.root / name / str(version)
    current = fingerprint(folder)
    if previous is not None and previous.fingerprint == current and not full:
        return previous
    if isinstance(previous, LoadedVersion):
        try:
            store.verify(name, version)
            digest = sha256_file(folder / MANIFEST_FILE)
        except (StoreError, OSError) as exc:
            return _failed(store, name, version, current, exc, previous.manifest)
        if digest == previous.digest:
            return replace(previous, fingerprint=current)
    return load_version(store, name, version, current, backend)


def load_version(
    store: ModelStore,
    name: str,
    version: int,
    current: Fingerprint,
    backend: BackendName = "auto",
    warm: bool = True,
) -> VersionState:
    """Verify, rebuild and self-test one version; any failure becomes a FailedVersion with its reason.

    The broad except is deliberate: one broken version (or an engine bug it triggers) must not keep
    the other versions from loading; the reason is shown on GET /v1/models/{name} and logged.
    """
    manifest = None
    try:
        manifest = store.verify(name, version)
        folder = store.root / name / str(version)
        digest = sha256_file(folder / MANIFEST_FILE)
        field_onnx = (folder / FIELD_ONNX).read_bytes() if FIELD_ONNX in manifest.files else None
        runner = ModelRunner(load_network(folder, manifest), manifest, field_onnx, backend, warm)
        golden = load_golden(folder)
        self_test(runner, manifest, golden)
        baseline = golden_baseline(runner, manifest, golden)
    except Exception as exc:  # noqa: BLE001 -- see the docstring
        return _failed(store, name, version, current, exc, manifest)
    log.info(
        "loaded %s/%s on %s (golden NFE baseline %.1f)%s",
        name,
        version,
        runner.backend.name,
        baseline.nfe_mean,
        f"; {runner.backend_note}" if runner.backend_note else "",
    )
    return LoadedVersion(name, version, manifest, digest, current, runner, baseline)


def golden_inputs(manifest: Manifest, golden: Golden) -> np.ndarray:
    return np.asarray(golden.inputs, dtype=np.float64).reshape(-1, *manifest.input.shape)


def self_test(runner: ModelRunner, manifest: Manifest, golden: Golden) -> None:
    """Re-solve the golden inputs with the golden's solver; raise SelfTestFailed on disagreement."""
    pred = runner.predict(golden_inputs(manifest, golden), SolverConfig.resolve(golden.solver))
    if list(pred.labels) != list(golden.labels):
        bad = [i for i, (a, b) in enumerate(zip(pred.labels, golden.labels, strict=True)) if a != b]
        raise SelfTestFailed(f"golden self-test failed: labels of golden inputs {bad[:10]} differ")
    diff = float(np.max(np.abs(np.asarray(pred.probabilities) - np.asarray(golden.probabilities))))
    if not diff <= GOLDEN_TOLERANCE:
        raise SelfTestFailed(
            f"golden self-test failed: probabilities differ by up to {diff:.3g} (allowed {GOLDEN_TOLERANCE})"
        )


def golden_baseline(runner: ModelRunner, manifest: Manifest, golden: Golden) -> Baseline:
    cfg = SolverConfig.resolve(manifest.default_solver)
    pred = runner.predict(golden_inputs(manifest, golden), cfg)
    return Baseline(float(np.mean(pred.nfe)), len(pred.nfe), cfg)


def _failed(
    store: ModelStore,
    name: str,
    version: int,
    current: Fingerprint,
    exc: Exception,
    manifest: Manifest | None,
) -> FailedVersion:
    # The reason is public (GET /v1/models/{name}): no absolute paths of the server in it.
    folder = str(store.root / name / str(version))
    reason = (str(exc) or type(exc).__name__).replace(folder, f"{name}/{version}")
    reason = reason.replace(str(store.root), "<store>")
    log.warning("refusing %s/%s: %s", name, version, reason)
    return FailedVersion(name, version, reason, current, manifest)
