"""The manifest: the JSON document that describes one stored version.

It is the contract between training (which writes it) and the service (which reads it).
``schema_version`` lets a reader refuse a manifest it does not understand instead of guessing.
A field added with a default (``training.history``) is not a new schema: every manifest written
before it still reads, with the default.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .architecture import ArchitectureSpec
from .methods import SERVED_METHODS, served_method
from .naming import NAME_PATTERN

SCHEMA_VERSION: Final = 1
MAX_HISTORY: Final = 1000
"""Most per-epoch records a manifest keeps: ~250 bytes each, so a quarter of the 1 MiB manifest limit."""
MANIFEST_FILE = "manifest.json"
MANIFEST_DIGEST_FILE = "manifest.sha256"
WEIGHTS_FILE = "weights.safetensors"
GOLDEN_FILE = "golden.json"
ENCODER_ONNX, FIELD_ONNX, HEAD_ONNX = "encoder.onnx", "field.onnx", "head.onnx"
ONNX_FILES = (ENCODER_ONNX, FIELD_ONNX, HEAD_ONNX)

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
ServedMethod = Annotated[
    str, AfterValidator(served_method), Field(json_schema_extra={"enum": list(SERVED_METHODS)})
]
"""A served solver method (see methods.py): a manifest naming another could not be served as written."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolverDefaults(_Record):
    """The solver a model is served with unless a request overrides it."""

    method: ServedMethod = "dopri5"
    rtol: PositiveFloat = 1e-4
    atol: PositiveFloat = 1e-4
    step_size: PositiveFloat = 0.05
    max_steps: int = Field(default=1000, ge=1, le=1_000_000)


class InputSpec(_Record):
    """What one input sample looks like."""

    shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=3)
    dtype: Literal["float32"] = "float32"
    feature_names: list[str] | None = None


class NfeStats(_Record):
    """Number of function evaluations per sample at the default solver."""

    mean: float = Field(ge=0)
    p50: float = Field(ge=0)
    p95: float = Field(ge=0)


class SplitMetrics(_Record):
    accuracy: float = Field(ge=0, le=1)
    loss: float = Field(ge=0)


class EpochRecord(_Record):
    """One epoch as training logged it: means over its batches, then the validation split."""

    epoch: int = Field(ge=1)
    loss: float | None = Field(ge=0, allow_inf_nan=False, description="null: not finite (diverged)")
    accuracy: float = Field(ge=0, le=1)
    nfe: float = Field(ge=0, allow_inf_nan=False, description="mean forward NFE per batch")
    val: SplitMetrics | None = Field(default=None, description="null: not measured, or its loss not finite")


class TrainingRecord(_Record):
    """How the version was produced, and how well it did on held-out data."""

    dataset: str
    dataset_params: dict[str, float | int | str | bool | None] = {}
    seed: int
    split_sizes: dict[str, int] = {}
    epochs: int = Field(ge=0)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    solver: SolverDefaults
    adjoint: bool = False
    kinetic_energy: float = Field(default=0.0, ge=0)
    metrics: dict[Literal["train", "val", "test"], SplitMetrics]
    nfe: NfeStats
    duration_s: float = Field(default=0.0, ge=0)
    history: list[EpochRecord] = Field(default=[], max_length=MAX_HISTORY)

    @model_validator(mode="after")
    def _history_in_order(self) -> TrainingRecord:
        """Epochs strictly increasing within 1..epochs (longer runs keep every k-th, see training)."""
        numbers = [record.epoch for record in self.history]
        if any(b <= a for a, b in itertools.pairwise(numbers)) or any(n > self.epochs for n in numbers):
            raise ValueError(f"history epochs must increase strictly within 1..{self.epochs}")
        return self


class Manifest(_Record):
    """One stored version. ``files`` maps every other file in the folder to its sha256."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: Annotated[str, StringConstraints(pattern=f"^{NAME_PATTERN}$")]
    version: int = Field(ge=1)
    created_at: datetime
    family: Literal["node", "anode"]
    architecture: ArchitectureSpec
    input: InputSpec
    classes: list[str] = Field(min_length=2)
    interval: tuple[float, float] = (0.0, 1.0)
    default_solver: SolverDefaults = SolverDefaults()
    training: TrainingRecord | None = None
    files: dict[FileName, Sha256]
    libraries: dict[str, str] = {}
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        arch = self.architecture
        if (self.family == "anode") != (arch.augment_dim > 0):
            raise ValueError("family 'anode' requires augment_dim >= 1 and 'node' requires 0")
        if list(self.input.shape) != list(arch.input_shape):
            raise ValueError("input.shape must equal architecture.input_shape")
        if len(self.classes) != arch.num_classes:
            raise ValueError("len(classes) must equal architecture.num_classes")
        if not self.interval[1] > self.interval[0]:
            raise ValueError("interval must be increasing")
        if MANIFEST_FILE in self.files or MANIFEST_DIGEST_FILE in self.files:
            raise ValueError("files must not list the manifest itself")
        return self

    @property
    def augment_dim(self) -> int:
        return self.architecture.augment_dim


class Golden(_Record):
    """Reference inputs and their answers, solved tightly at export time.

    The service re-solves these at load time and refuses a version that disagrees.
    """

    inputs: list[list[float]] = Field(min_length=1)
    labels: list[int]
    probabilities: list[list[float]]
    solver: SolverDefaults
    nfe: list[int] = []

    @model_validator(mode="after")
    def _same_lengths(self) -> Golden:
        if not len(self.inputs) == len(self.labels) == len(self.probabilities):
            raise ValueError("inputs, labels and probabilities must have the same length")
        return self
