"""Response bodies. Built by the service itself, so routes serialise them without re-validating."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models_store import NfeStats, SplitMetrics

from . import examples


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorInfo(_Out):
    type: str = Field(description="stable machine-readable kind, e.g. model_not_found")
    message: str = Field(description="what went wrong and what to do about it")
    details: Any = Field(default=None, description="structured context, e.g. pydantic's error list")


class ErrorBody(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.ERROR]})

    error: ErrorInfo


_STEPS_UNKNOWN = (
    "; null when unknown: methods run through torchdiffeq (batch_invariant false) do not report their steps"
)
StepCounts = list[int] | None
"""Per-input step counts, or None (JSON null) where the solver does not report them: a 0 would
read as "no steps"."""


class SolverSettings(_Out):
    """The solver settings a call actually ran with (model defaults plus the request's overrides)."""

    method: str
    rtol: float
    atol: float
    step_size: float
    max_steps: int


class PredictResponse(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.PREDICT_RESPONSE]})

    model: str
    version: int
    predictions: list[str] = Field(description="class label of each input")
    probabilities: list[list[float]] = Field(description="[inputs][classes], in the model's class order")
    nfe: list[int] = Field(description="function evaluations spent on each input")
    accepted_steps: StepCounts = Field(description="accepted solver steps of each input" + _STEPS_UNKNOWN)
    rejected_steps: StepCounts = Field(description="rejected solver steps of each input" + _STEPS_UNKNOWN)
    solver: SolverSettings
    batch_invariant: bool = Field(description="true when each answer is independent of its batchmates")


class TrajectoryResponse(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.TRAJECTORY_RESPONSE]})

    model: str
    version: int
    times: list[float]
    states: list[list[list[float]]] = Field(description="z(t) as [times][inputs][state dim incl. augmented]")
    probabilities: list[list[list[float]]] = Field(description="[times][inputs][classes]")
    predictions: list[str] = Field(description="class label of each input at the end of the interval")
    final_probabilities: list[list[float]]
    nfe: list[int]
    accepted_steps: StepCounts = Field(description="accepted solver steps of each input" + _STEPS_UNKNOWN)
    rejected_steps: StepCounts = Field(description="rejected solver steps of each input" + _STEPS_UNKNOWN)
    solver: SolverSettings
    batch_invariant: bool


class GridResponse(_Out):
    """The model's answers over a box of its input plane: the value at row j, column i is the
    answer at the point (xs[i], ys[j]), the same as predict's for that point."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.GRID_RESPONSE]})

    model: str
    version: int
    solver: SolverSettings
    classes: list[str] = Field(description="the model's classes; labels index into them")
    xs: list[float] = Field(description="nx points from xmin to xmax, ends included")
    ys: list[float] = Field(description="ny points from ymin to ymax, ends included")
    probabilities: list[list[list[float]]] = Field(description="[ny][nx][classes]")
    labels: list[list[int]] = Field(description="[ny][nx] index of the predicted class")
    nfe: list[list[int | None]] = Field(
        description="[ny][nx] function evaluations spent on each point; null where the method is not "
        "batch-invariant (torchdiffeq counts the whole batch's evaluations, not a point's)"
    )
    batch_invariant: bool = Field(description="true when each point's answer is independent of the others")


class VectorFieldResponse(_Out):
    """f(t, z) on a plane of the state: the value at row j, column i is at z with
    z[dims[0]] = xs[i], z[dims[1]] = ys[j] and the other dimensions at ``point``'s."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.VECTOR_FIELD_RESPONSE]})

    model: str
    version: int
    t: float
    dims: list[int] = Field(description="the plane's two state dimensions (x, y)")
    state_dim: int = Field(description="size of z(t), augmented dimensions included")
    input_dim: int = Field(description="state dimensions [0, input_dim) come from the (encoded) input")
    augment_dim: int = Field(description="state dimensions [input_dim, state_dim) are augmented")
    point: list[float] = Field(description="the state the plane passes through (its dims vary)")
    xs: list[float]
    ys: list[float]
    u: list[list[float]] = Field(description="[ny][nx] component dims[0] of f(t, z)")
    v: list[list[float]] = Field(description="[ny][nx] component dims[1] of f(t, z)")


class DatasetResponse(_Out):
    """Points of the dataset the version was trained on, regenerated from its manifest."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.DATASET_RESPONSE]})

    model: str
    version: int
    dataset: str = Field(description="the training record's dataset")
    split: Literal["train", "val", "test"]
    total: int = Field(description="points in the whole split; the first ``limit`` are sent")
    classes: list[str]
    features: list[list[float]] = Field(description="[points][2]: x, y")
    labels: list[int] = Field(description="each point's class index")


class InputInfo(_Out):
    shape: list[int]
    dtype: str
    feature_names: list[str] | None = None


class TrainingSummary(_Out):
    dataset: str
    epochs: int
    metrics: dict[str, SplitMetrics] = Field(description="accuracy and loss per data split")
    nfe: NfeStats = Field(description="per-sample NFE measured at training time")


class ManifestSummary(_Out):
    family: Literal["node", "anode"]
    created_at: datetime
    description: str
    input: InputInfo
    classes: list[str]
    augment_dim: int
    state_dim: int = Field(description="size of z(t), augmented dimensions included")
    interval: tuple[float, float]
    default_solver: SolverSettings
    training: TrainingSummary | None


class VersionSummary(_Out):
    version: int
    status: Literal["loaded", "failed"]
    reason: str | None = Field(description="why a failed version is not served")
    aliases: list[str]
    created_at: datetime | None
    metrics: dict[str, SplitMetrics] | None
    # What the explorer needs to know which pictures apply (null: the manifest could not be read)
    input_shape: list[int] | None = None
    state_dim: int | None = Field(default=None, description="size of z(t), augmented dimensions included")
    augment_dim: int | None = None
    interval: tuple[float, float] | None = Field(default=None, description="[t0, t1] of the ODE solve")
    classes: list[str] | None = None
    report: str | None = Field(
        default=None,
        description="URL of the version's training report (HTML); null when none was built or the UI is off",
    )


class ModelSummary(_Out):
    name: str
    latest_version: int | None
    aliases: dict[str, int]
    versions: list[int]
    loaded_versions: list[int]
    family: Literal["node", "anode"] | None
    input_shape: list[int] | None
    classes: list[str] | None
    description: str


class ModelList(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.MODEL_LIST]})

    models: list[ModelSummary]


class ModelDetail(_Out):
    """A model: its versions (with load status) and, from its latest version, what it expects."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.MODEL_DETAIL]})

    name: str
    latest_version: int | None
    aliases: dict[str, int]
    versions: list[VersionSummary]
    latest: ManifestSummary | None = Field(description="summary of the version 'latest' points at")


class GoldenBaseline(_Out):
    nfe_mean: float = Field(description="mean per-sample NFE of the golden inputs at the default solver")
    samples: int
    solver: SolverSettings


class VersionDetail(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.VERSION_DETAIL]})

    name: str
    version: int
    status: Literal["loaded", "failed"]
    reason: str | None
    aliases: list[str]
    manifest: ManifestSummary | None
    golden_nfe_baseline: GoldenBaseline | None
    backend: str | None = Field(description="where predictions are solved: onnxruntime or torch")
    backend_note: str | None = Field(description="why ONNX Runtime was passed over, when it was")
    files: dict[str, str] = Field(description="sha256 of every stored file")


class FailureInfo(_Out):
    model: str
    version: int
    reason: str


class ReloadReport(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.RELOAD_REPORT]})

    loaded: list[str] = Field(description="versions newly loaded (name/version)")
    failed: list[FailureInfo] = Field(description="versions that newly failed to load")
    removed: list[str] = Field(description="versions no longer in the store")
    aliases_changed: list[str] = Field(description="models whose aliases moved")
    loaded_versions: int
    failed_versions: int
    duration_s: float
    workers: int = Field(default=1, description="worker processes of this replica serving at the answer")
    workers_applied: int = Field(
        default=1,
        description="how many of them had re-read the store for this reload (this one included); "
        "any other follows as soon as its own re-read ends",
    )


class Liveness(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class Readiness(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.READINESS]})

    status: Literal["ready", "not_ready"]
    loaded_versions: int
    failed_versions: int
    draining: bool
