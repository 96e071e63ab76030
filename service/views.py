"""Registry state as API answers (model list, model detail, version detail, reload report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models_store import Manifest
from service.lifecycle.loading import LoadedVersion, VersionState
from service.lifecycle.registry import Changes, ModelState
from service.lifecycle.reload_signal import WorkerAcks

from .codec import solver_settings
from .schemas import (
    FailureInfo,
    GoldenBaseline,
    InputInfo,
    ManifestSummary,
    ModelDetail,
    ModelSummary,
    ReloadReport,
    SolverSettings,
    TrainingSummary,
    VersionDetail,
    VersionSummary,
)


def model_summary(model: ModelState) -> ModelSummary:
    latest = model.latest
    manifest = latest.manifest if latest is not None else None
    return ModelSummary(
        name=model.name,
        latest_version=latest.version if latest is not None else None,
        aliases=dict(model.aliases),
        versions=sorted(model.versions),
        loaded_versions=sorted(v for v, s in model.versions.items() if s.status == "loaded"),
        family=manifest.family if manifest else None,
        input_shape=list(manifest.input.shape) if manifest else None,
        classes=list(manifest.classes) if manifest else None,
        description=manifest.description if manifest else "",
    )


def model_detail(model: ModelState, reports: Mapping[int, str] | None = None) -> ModelDetail:
    """``reports``: the training report's URL of each version that has one."""
    latest = model.latest
    links = reports or {}
    return ModelDetail(
        name=model.name,
        latest_version=latest.version if latest is not None else None,
        aliases=dict(model.aliases),
        versions=[_version_summary(model, s, links.get(v)) for v, s in sorted(model.versions.items())],
        latest=manifest_summary(latest.manifest) if latest is not None and latest.manifest else None,
    )


def version_detail(model: ModelState, state: VersionState) -> VersionDetail:
    manifest = state.manifest
    baseline = backend = note = None
    if isinstance(state, LoadedVersion):
        b = state.baseline
        baseline = GoldenBaseline(nfe_mean=b.nfe_mean, samples=b.samples, solver=solver_settings(b.solver))
        backend, note = state.runner.backend.name, state.runner.backend_note
    return VersionDetail(
        name=state.name,
        version=state.version,
        status=state.status,
        reason=state.reason,
        aliases=model.aliases_of(state.version),
        manifest=manifest_summary(manifest) if manifest else None,
        golden_nfe_baseline=baseline,
        backend=backend,
        backend_note=note,
        files=dict(manifest.files) if manifest else {},
    )


def manifest_summary(manifest: Manifest) -> ManifestSummary:
    record = manifest.training
    training = None
    if record is not None:
        training = TrainingSummary(
            dataset=record.dataset,
            epochs=record.epochs,
            metrics={split: m for split, m in record.metrics.items()},  # str keys: dict() keeps the Literal
            nfe=record.nfe,
        )
    return ManifestSummary(
        family=manifest.family,
        created_at=manifest.created_at,
        description=manifest.description,
        input=InputInfo(**manifest.input.model_dump()),
        classes=list(manifest.classes),
        augment_dim=manifest.augment_dim,
        state_dim=manifest.architecture.state_dim,
        interval=manifest.interval,
        default_solver=SolverSettings(**manifest.default_solver.model_dump()),
        training=training,
    )


def reload_report(changes: Changes, workers: WorkerAcks | None = None) -> ReloadReport:
    """``workers``: how far the reload reached a replica's workers (None: this is the only one)."""
    acks = workers if workers is not None else WorkerAcks(live=1, applied=1)
    return ReloadReport(
        loaded=changes.loaded,
        failed=[FailureInfo(model=f.name, version=f.version, reason=f.reason) for f in changes.failed],
        removed=changes.removed,
        aliases_changed=changes.aliases_changed,
        loaded_versions=changes.loaded_versions,
        failed_versions=changes.failed_versions,
        duration_s=changes.duration_s,
        workers=acks.live,
        workers_applied=acks.applied,
    )


def _version_summary(model: ModelState, state: VersionState, report: str | None) -> VersionSummary:
    manifest = state.manifest
    training = manifest.training if manifest else None
    return VersionSummary(
        version=state.version,
        status=state.status,
        reason=state.reason,
        aliases=model.aliases_of(state.version),
        created_at=manifest.created_at if manifest else None,
        metrics={split: m for split, m in training.metrics.items()} if training else None,
        **(_pictures_facts(manifest) if manifest else {}),
        report=report,
    )


def _pictures_facts(manifest: Manifest) -> dict[str, Any]:
    """What the explorer needs to know which pictures apply to a version."""
    return {
        "input_shape": list(manifest.input.shape),
        "state_dim": manifest.architecture.state_dim,
        "augment_dim": manifest.augment_dim,
        "interval": manifest.interval,
        "classes": list(manifest.classes),
    }
