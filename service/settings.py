"""The service's configuration: one settings class, read from ``ODESERVE_*`` environment variables.

``python -m service`` turns its command-line options into the same variables, so every uvicorn
worker process builds identical settings. Every limit has a safe default and hard bounds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models_store import DEFAULT_STORE_ROOT

MIB = 1 << 20


class Settings(BaseSettings):
    """Everything the service can be told; env var ``ODESERVE_<FIELD>`` sets ``<field>``."""

    model_config = SettingsConfigDict(env_prefix="ODESERVE_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    store: Path = DEFAULT_STORE_ROOT
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    poll_interval_s: float = Field(default=2.0, ge=0, le=3600, description="store polling; 0 disables it")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: Literal["json", "text"] = Field(default="json", description="json: one JSON object per line")

    api_key: SecretStr | None = Field(default=None, description="if set, /v1/models/** needs X-API-Key")
    admin_api_key: SecretStr | None = Field(default=None, description="admin endpoints are off without it")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed by CORS (comma-separated or a JSON list; '*' any); empty: CORS off",
    )

    max_inputs: int = Field(default=1024, ge=1, le=65536, description="samples per request")
    max_time_points: int = Field(default=1000, ge=2, le=100_000, description="trajectory time points")
    max_trajectory_values: int = Field(
        default=4_000_000,
        ge=1000,
        le=100_000_000,
        description="numbers in one trajectory answer: time points x inputs x (state dim + classes)",
    )
    max_grid_points: int = Field(
        default=16_384,
        ge=4,
        le=262_144,
        description="points in one explorer grid (nx x ny), each a sample solved as by predict",
    )
    max_steps_cap: int = Field(default=10_000, ge=1, le=1_000_000, description="largest max_steps allowed")
    min_tolerance: float = Field(default=1e-10, gt=0, lt=1, description="smallest rtol/atol allowed")
    max_tolerance: float = Field(default=0.5, gt=0, lt=1, description="largest rtol/atol allowed")
    max_body_bytes: int = Field(default=8 * MIB, ge=1024, le=256 * MIB)
    torch_threads: int = Field(
        default=1, ge=1, le=256, description="torch intra-op threads (and numpy BLAS threads) per worker"
    )
    backend: Literal["auto", "torch", "onnxruntime"] = Field(
        default="auto", description="solver backend; auto: ONNX Runtime where it matches torch at load time"
    )
    max_batch_size: int = Field(default=64, ge=1, le=65536, description="samples per dynamic batch")
    max_batch_delay_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="extra wait for batchmates when idle (0: batch what is queued)",
    )
    inline_max_steps: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="ONNX Runtime solves whose samples may take at most this many steps run on the event "
        "loop (no thread hop; a stall is bounded by it); 0: always on the solver thread",
    )
    max_queue: int = Field(
        default=4096,
        ge=1,
        le=1_000_000,
        description="samples waiting per worker; past it requests wait in line up to admission_wait_ms, "
        "then get 503 + Retry-After",
    )
    max_inflight: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="solve requests (predict, trajectory, infer) inside a worker at once; the rest wait "
        "in line for up to admission_wait_ms",
    )
    admission_wait_ms: float = Field(
        default=500.0,
        ge=0,
        le=60_000,
        description="how long a solve request may wait in line for room before 503 + Retry-After "
        "(0: refuse at once)",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="deadline for a request's queue wait and solve (504 past it)"
    )
    fast_path: bool = Field(
        default=True,
        description="answer predict and trajectory without FastAPI's per-request machinery (same answers)",
    )
    ui: bool = Field(
        default=True,
        description="serve the model explorer's pages (/ui/: models, pictures, training reports); "
        "its JSON endpoints under /v1 stay",
    )
    drain_grace_s: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="after SIGTERM: seconds /readyz answers 503 draining before the listener closes",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def shutdown_timeout_s(self) -> float:
        """How long a stop waits for in-flight requests: each ends by its deadline (answered 504 at worst)."""
        return self.request_timeout_s + 5

    @model_validator(mode="after")
    def _tolerances_ordered(self) -> Settings:
        if self.min_tolerance >= self.max_tolerance:
            raise ValueError("min_tolerance must be smaller than max_tolerance")
        return self
