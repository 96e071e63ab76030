"""Request bodies: strict, bounded, ``extra="forbid"``; limits set by the server are checked in codec."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from . import examples

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number: NaN and Infinity (which Python's JSON parser accepts) and strings are refused."""

Tolerance = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, lt=1)]
GridSide = Annotated[int, Field(strict=True, ge=2, le=128)]
FieldSide = Annotated[int, Field(strict=True, ge=2, le=64)]
StateIndex = Annotated[int, Field(strict=True, ge=0, le=65_535)]
_DEPTH_TAGS = {1: "flat", 2: "nested2", 3: "nested3"}


def _sample_depth(value: Any) -> str | None:
    """How deeply a sample is nested (one tag per depth, so only one schema is tried)."""
    depth = 0
    while isinstance(value, list):
        depth += 1
        if not value:
            break
        value = value[0]
    return _DEPTH_TAGS.get(depth)


Sample = Annotated[
    Annotated[list[FiniteFloat], Tag("flat")]
    | Annotated[list[list[FiniteFloat]], Tag("nested2")]
    | Annotated[list[list[list[FiniteFloat]]], Tag("nested3")],
    Discriminator(
        _sample_depth,
        custom_error_type="sample_type",
        custom_error_message="each sample must be a list of numbers, flat or nested in the model's input "
        "shape",
    ),
]


class SolverRequest(BaseModel):
    """Overrides of the model's default solver; every field is optional."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.SOLVER]})

    method: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="an explicit Runge-Kutta method, e.g. dopri5 (adaptive) or rk4 (fixed step)",
    )
    rtol: Tolerance | None = Field(default=None, description="relative tolerance (adaptive methods)")
    atol: Tolerance | None = Field(default=None, description="absolute tolerance (adaptive methods)")
    step_size: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] | None = Field(
        default=None, description="step size (fixed-step methods)"
    )
    max_steps: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, description="most solver steps per sample; the server caps it"
    )


class PredictRequest(BaseModel):
    """Inputs to classify, and optionally solver settings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.PREDICT_REQUEST]})

    inputs: list[Sample] = Field(
        min_length=1,
        description="one entry per sample: flat (prod(input shape) numbers) or nested in the input "
        "shape; at most the server's max_inputs (default 1024)",
    )
    solver: SolverRequest | None = None


class TrajectoryRequest(PredictRequest):
    """Inputs and the times at which to report z(t); give ``times`` or ``num_points`` (default 20)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.TRAJECTORY_REQUEST]})

    times: list[FiniteFloat] | None = Field(
        default=None, min_length=1, description="strictly increasing, inside the model's interval"
    )
    num_points: Annotated[int, Field(strict=True, ge=2)] | None = Field(
        default=None, description="evenly spaced points over the model's interval, ends included"
    )

    @model_validator(mode="after")
    def _times_or_points(self) -> TrajectoryRequest:
        if self.times is not None and self.num_points is not None:
            raise ValueError("give either times or num_points, not both")
        return self


def _increasing(pair: tuple[float, float]) -> tuple[float, float]:
    if not pair[0] < pair[1]:
        raise ValueError(f"a range must be [min, max] with min < max, got [{pair[0]:g}, {pair[1]:g}]")
    return pair


Range = Annotated[tuple[FiniteFloat, FiniteFloat], AfterValidator(_increasing)]
Box = Annotated[
    tuple[Range, Range], Field(description="[[xmin, xmax], [ymin, ymax]]: the plane's box, ends included")
]


class GridRequest(BaseModel):
    """A box of the input plane (models whose input is 2 numbers), evaluated at nx x ny points."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.GRID_REQUEST]})

    bounds: Box
    resolution: tuple[GridSide, GridSide] = Field(
        description="[nx, ny] points along x and y, ends included; nx x ny at most the server's "
        "max_grid_points (default 16384)"
    )
    solver: SolverRequest | None = None


class VectorFieldRequest(BaseModel):
    """The learned field f(t, z) on a plane through the ODE state: two of its dimensions vary over a
    box, the others stay at ``point``'s."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.VECTOR_FIELD_REQUEST]})

    t: FiniteFloat = Field(description="the time, inside the model's interval")
    dims: tuple[StateIndex, StateIndex] = Field(
        default=(0, 1),
        description="the two state dimensions of the plane (x, y), distinct; for an augmented model "
        "the augmented dimensions come after the input's",
    )
    bounds: Box
    resolution: tuple[FieldSide, FieldSide] = Field(
        description="[nx, ny] points along x and y, ends included"
    )
    point: list[FiniteFloat] | None = Field(
        default=None,
        min_length=1,
        max_length=65_536,
        description="a full state (state dim numbers): the other dimensions' values; default zeros",
    )

    @model_validator(mode="after")
    def _distinct_dims(self) -> VectorFieldRequest:
        if self.dims[0] == self.dims[1]:
            raise ValueError(f"dims must name two different state dimensions, got {list(self.dims)}")
        return self
