"""Every training option, validated once at the edge (CLI or demo presets) and frozen.

Field descriptions double as the CLI's ``--help`` text (see cli.py), so the bounds and their
documentation live in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models_store import (
    DEFAULT_NOISE,
    TOY_GENERATORS,
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    FlattenEncoderSpec,
    SolverDefaults,
    validate_name,
)
from models_store.architecture import Activation

from .datasets import DatasetName
from .solvers import Method

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Width = Annotated[int, Field(ge=1, le=4096)]


_ONLY_FOR: dict[str, tuple[str, frozenset[str]]] = {
    "data": ("dataset", frozenset({"csv", "npz"})),
    "label_column": ("dataset", frozenset({"csv"})),
    "samples": ("dataset", frozenset(TOY_GENERATORS)),
    "noise": ("dataset", frozenset(TOY_GENERATORS)),
    "conv_channels": ("encoder", frozenset({"conv"})),
    "latent_dim": ("encoder", frozenset({"conv"})),
}
"""Options that mean something only with some datasets or encoders: given elsewhere, they are refused."""


class TrainConfig(BaseModel):
    """What to train, how, and under which name it is published."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Defaults are passed as ``default=``: type checkers read only that keyword as a field default.

    name: str | None = Field(
        default=None, description="model name in the store; default '<dataset>-<node|anode>'"
    )
    dataset: DatasetName = Field(
        default="moons", description="built-in dataset, or your own file (csv, npz) given by --data"
    )
    data: Path | None = Field(default=None, description="path of the CSV or NPZ file (datasets csv and npz)")
    label_column: str = Field(
        default="label", min_length=1, description="the CSV column holding the class label"
    )
    samples: int = Field(default=1000, ge=10, le=1_000_000, description="number of points of a toy dataset")
    noise: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description="noise of a toy dataset; default 0.1 moons, 0.05 circles and spirals",
    )
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1, description="seed of the data, the split, the init and the batches"
    )
    encoder: Literal["flatten", "conv"] = Field(
        default="flatten", description="flatten: the input is z(0); conv: a conv downsampler (image inputs)"
    )
    conv_channels: list[Width] = Field(
        default=[8, 16], min_length=1, max_length=6, description="conv encoder channels"
    )
    latent_dim: Width = Field(default=16, description="conv encoder output size, before augmentation")
    augment_dim: int = Field(
        default=0, ge=0, le=1024, description="zeros appended to z(0); >= 1 makes an ANODE"
    )
    hidden: list[Width] = Field(
        default=[64], min_length=1, max_length=8, description="hidden widths of the field f"
    )
    activation: Activation = Field(default="tanh", description="activation of the field f")
    time_input: bool = Field(default=False, description="feed t to the field f (non-autonomous ODE)")
    epochs: int = Field(default=20, ge=1, le=100_000, description="passes over the training split")
    batch_size: int = Field(default=64, ge=1, le=1_000_000, description="samples per optimiser step")
    lr: Positive = Field(default=3e-3, le=10, description="Adam learning rate")
    weight_decay: float = Field(
        default=0.0,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="decoupled weight decay (AdamW); 0 is plain Adam",
    )
    schedule: Literal["constant", "cosine"] = Field(
        default="cosine", description="learning-rate schedule over the epochs"
    )
    method: Method = Field(default="dopri5", description="torchdiffeq method used while training")
    rtol: Positive = Field(default=1e-3, description="relative tolerance while training (adaptive methods)")
    atol: Positive = Field(default=1e-3, description="absolute tolerance while training (adaptive methods)")
    step_size: Positive = Field(
        default=0.05, le=1, description="step size while training (fixed-grid methods)"
    )
    adjoint: bool = Field(
        default=False, description="backpropagate with the adjoint method (O(1) memory, more NFE)"
    )
    kinetic_energy: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="weight of the kinetic-energy penalty, integral of ||f||^2 dt",
    )
    serve_method: Method = Field(
        default="dopri5", description="the default serving method written in the manifest"
    )
    serve_rtol: Positive = Field(default=1e-4, description="the default serving relative tolerance")
    serve_atol: Positive = Field(default=1e-4, description="the default serving absolute tolerance")
    description: str = Field(default="", max_length=500, description="free text stored in the manifest")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str | None) -> str | None:
        return None if name is None else validate_name(name)

    @model_validator(mode="after")
    def _file_datasets_need_data(self) -> TrainConfig:
        if self.dataset in ("csv", "npz") and self.data is None:
            raise ValueError(f"dataset {self.dataset} needs --data PATH")
        return self

    @model_validator(mode="after")
    def _options_fit_their_context(self) -> TrainConfig:
        for option, (context, allowed) in _ONLY_FOR.items():
            if option in self.model_fields_set and getattr(self, context) not in allowed:
                flag = "--" + option.replace("_", "-")
                raise ValueError(f"{flag} applies only to --{context} {' or '.join(sorted(allowed))}")
        return self

    @property
    def family(self) -> Literal["node", "anode"]:
        return "anode" if self.augment_dim else "node"

    @property
    def model_name(self) -> str:
        return self.name or validate_name(f"{self.dataset}-{self.family}")

    def dataset_params(self) -> dict[str, float | int | str | bool | None]:
        """The parameters that regenerate the data, as stored in the training record."""
        if self.dataset in TOY_GENERATORS:
            noise = DEFAULT_NOISE[self.dataset] if self.noise is None else self.noise
            return {"samples": self.samples, "noise": noise}
        if self.dataset == "csv":
            return {"path": str(self.data), "label_column": self.label_column}
        if self.dataset == "npz":
            return {"path": str(self.data)}
        return {}

    def training_solver(self) -> SolverDefaults:
        return SolverDefaults(method=self.method, rtol=self.rtol, atol=self.atol, step_size=self.step_size)

    def serving_solver(self) -> SolverDefaults:
        return SolverDefaults(method=self.serve_method, rtol=self.serve_rtol, atol=self.serve_atol)

    def architecture(self, input_shape: list[int], num_classes: int) -> ArchitectureSpec:
        """The network spec for data of this shape; raises ValidationError if they do not fit."""
        encoder = (
            ConvEncoderSpec(channels=self.conv_channels, latent_dim=self.latent_dim)
            if self.encoder == "conv"
            else FlattenEncoderSpec()
        )
        field = FieldSpec(hidden=self.hidden, activation=self.activation, time_input=self.time_input)
        return ArchitectureSpec(
            input_shape=input_shape,
            encoder=encoder,
            augment_dim=self.augment_dim,
            field=field,
            num_classes=num_classes,
        )
