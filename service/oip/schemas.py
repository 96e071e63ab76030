"""The protocol's JSON objects. Requests are strict (``extra="forbid"``: an option this server does not
implement, e.g. shared memory or sequences, is refused rather than ignored, and so is a misspelt field);
responses are built here.

Real clients also write fields the protocol does not list: KServe's ``InferenceRESTClient`` puts
``model_name`` in every request body, and clients that echo a response's shape add ``model_version``.
:data:`CLIENT_FIELDS` names them; they are read and ignored (the URL says which model and version
answer, as in Triton and KServe), so they cannot change an answer. Any other field is still refused,
with a 400 that names it.

Solver settings travel in the request's ``parameters`` and are validated by /v1's own
:class:`~service.schemas.SolverRequest`, which :class:`InferParameters` extends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.schemas import SolverRequest, TrajectoryRequest
from service.schemas.requests import FiniteFloat

from . import examples

INPUT_NAME = "input"
CLIENT_FIELDS = ("model_name", "model_version")
"""Top-level request fields real clients send that the protocol does not list; accepted, and ignored."""
TRAJECTORY_OUTPUTS = ("trajectory", "times")
OutputName = Literal["probabilities", "label", "label_index", "nfe", "trajectory", "times"]
Count = Annotated[int, Field(strict=True, ge=0)]
ContentType = Annotated[
    str | None,
    Field(
        max_length=32,
        description=(
            "MLServer's codec hint (e.g. 'np'); accepted, and not needed: datatype and shape say it all"
        ),
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class InputParameters(_In):
    binary_data_size: Count | None = Field(
        default=None, description="the tensor's bytes follow the JSON header (binary tensor data extension)"
    )
    content_type: ContentType = None


class RequestInput(_In):
    """One input tensor: ``data`` row-major, flat or nested, or its bytes after the JSON header."""

    name: Literal["input"]
    shape: list[Count] = Field(
        min_length=2,
        max_length=4,
        description="[batch, *the model's input shape] or [batch, prod(input shape)]",
    )
    datatype: Literal["FP32", "FP64"]
    parameters: InputParameters | None = None
    data: Any = Field(default=None, description="the values, row-major; nested lists are read row-major too")


class OutputParameters(_In):
    binary_data: bool | None = Field(
        default=None,
        description="answer this output as raw bytes after the "
        "JSON header; unset: the request's binary_data_output",
    )
    classification: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, description="probabilities only: the top k classes as 'probability:index:label' strings"
    )
    content_type: ContentType = None


class RequestOutput(_In):
    name: OutputName
    parameters: OutputParameters | None = None

    @model_validator(mode="after")
    def _classification_of_probabilities(self) -> RequestOutput:
        if self.parameters and self.parameters.classification and self.name != "probabilities":
            raise ValueError("classification applies to the probabilities output only")
        return self


class InferParameters(SolverRequest):
    """Request ``parameters``: /v1's solver overrides, trajectory times, and protocol flags."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": examples.PARAMETERS})

    times: list[FiniteFloat] | None = Field(
        default=None,
        min_length=1,
        description="adds the trajectory outputs at these times (as /v1 trajectory)",
    )
    num_points: Annotated[int, Field(strict=True, ge=2)] | None = Field(
        default=None, description="adds the trajectory outputs at this many evenly spaced times"
    )
    binary_data_output: bool = Field(
        default=False,
        description="answer every output as raw bytes unless it "
        "says otherwise (Triton's client sets it when it names no outputs)",
    )
    priority: int | None = Field(default=None, description="accepted from Triton clients; not used")
    timeout: int | None = Field(default=None, description="accepted from Triton clients; not used")
    content_type: ContentType = None

    @model_validator(mode="after")
    def _times_or_points(self) -> InferParameters:
        if self.times is not None and self.num_points is not None:
            raise ValueError("give either times or num_points, not both")
        return self

    def solver(self) -> SolverRequest:
        """The solver overrides alone, for :func:`service.codec.decode_solver`."""
        return SolverRequest.model_construct(**self.model_dump(include=set(SolverRequest.model_fields)))

    def time_points(self) -> TrajectoryRequest:
        """The times as /v1 holds them, for :func:`service.codec.decode_times` (inputs are decoded apart)."""
        return TrajectoryRequest.model_construct(inputs=[], times=self.times, num_points=self.num_points)


class InferRequest(_In):
    """``POST .../infer``; the JSON header when the body carries binary tensor data."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.INFER_REQUEST]})

    id: str | None = Field(default=None, description="echoed in the response")
    parameters: InferParameters = Field(default_factory=InferParameters)
    inputs: list[RequestInput] = Field(min_length=1, max_length=1, description="one tensor named 'input'")
    outputs: list[RequestOutput] | None = Field(default=None, description="default: every output")
    model_name: str | None = Field(
        default=None, description="ignored: the URL names the model (KServe's Python client sends it)"
    )
    model_version: str | None = Field(default=None, description="ignored: the URL names the version")

    @field_validator("parameters", mode="before")
    @classmethod
    def _null_is_none_given(cls, value: Any) -> Any:
        return {} if value is None else value  # some clients write every optional field, as null

    @model_validator(mode="after")
    def _distinct_outputs(self) -> InferRequest:
        names = [out.name for out in self.outputs or ()]
        if len(set(names)) != len(names):
            raise ValueError("each output may be requested once")
        return self

    @property
    def wants_trajectory(self) -> bool:
        """Times asked for, or a trajectory output named: the solve goes through the trajectory path."""
        named = {out.name for out in self.outputs or ()}
        return (
            self.parameters.times is not None
            or self.parameters.num_points is not None
            or not named.isdisjoint(TRAJECTORY_OUTPUTS)
        )


class ResponseOutput(_Out):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = Field(default=None, description="binary_data_size when sent as bytes")
    data: list[Any] | None = Field(default=None, description="the values, flat and row-major")


class InferResponse(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.INFER_RESPONSE]})

    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any] = Field(description="the solver settings used, and batch_invariant")
    outputs: list[ResponseOutput]


class TensorMetadata(_Out):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any size")


class ModelMetadata(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.MODEL_METADATA]})

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(_Out):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [examples.SERVER_METADATA]})

    name: str
    version: str
    extensions: list[str]


class ServerLive(_Out):
    live: bool


class ServerReady(_Out):
    ready: bool


class ModelReady(_Out):
    name: str
    version: str = Field(description="the version that answers (an alias or no version resolved)")
    ready: bool


class ErrorResponse(_Out):
    """The protocol's error body (flat, unlike /v1's)."""

    error: str
