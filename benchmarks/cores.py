"""The ways the benchmarks solve a stored model's ODE for a batch: torchdiffeq as a hand-written
server calls it, and odeserve's engine through one backend (``benchmarks.solver_core`` times them,
``benchmarks.scoring`` uses the torchdiffeq one as its baseline)."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchdiffeq

from models_store import Manifest, ModelStore, OdeClassifier, load_network
from service.engine import ModelRunner, SampleSettings, SolverConfig


@dataclass(frozen=True)
class Version:
    """What the benchmark needs of a stored version."""

    network: OdeClassifier
    manifest: Manifest
    field_onnx: bytes | None


@dataclass(frozen=True)
class Outcome:
    probabilities: np.ndarray
    nfe: np.ndarray  # per sample (odeserve) or the batch's, once (torchdiffeq)


class Core(ABC):
    """One way of solving the model's ODE for a batch."""

    name: str
    nfe_per: str

    @abstractmethod
    def timed(self, x: np.ndarray) -> Callable[[], object]:
        """A call that does only the solve, everything else prepared beforehand."""

    @abstractmethod
    def outcome(self, x: np.ndarray) -> Outcome:
        """Probabilities and NFE (untimed)."""

    @abstractmethod
    def path(self, batch: int) -> str:
        """Which solver runs a batch of this size."""


class _CountingField(torch.nn.Module):
    def __init__(self, field: torch.nn.Module) -> None:
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, z)


class TorchdiffeqCore(Core):
    """``torchdiffeq.odeint`` over the whole batch, as a hand-written server calls it."""

    nfe_per = "batch"

    def __init__(self, version: Version, cfg: SolverConfig, dtype: torch.dtype) -> None:
        self.network = copy.deepcopy(version.network).to(dtype).eval().requires_grad_(False)
        self.cfg, self.dtype = cfg, dtype
        self.t = torch.tensor(version.manifest.interval, dtype=dtype)
        self.name = f"torchdiffeq {str(dtype).removeprefix('torch.')}"

    def _solve(self, field: torch.nn.Module, z0: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torchdiffeq.odeint(
                field, z0, self.t, method=self.cfg.method, rtol=self.cfg.rtol, atol=self.cfg.atol
            )[-1]

    def _z0(self, x: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return self.network.initial_state(torch.as_tensor(x, dtype=self.dtype))

    def timed(self, x: np.ndarray) -> Callable[[], object]:
        z0 = self._z0(x)
        return lambda: self._solve(self.network.field, z0)

    def outcome(self, x: np.ndarray) -> Outcome:
        field = _CountingField(self.network.field)
        z = self._solve(field, self._z0(x))
        with torch.no_grad():
            probs = torch.softmax(self.network.head(z), dim=-1).double().numpy()
        return Outcome(probs, np.array([field.calls]))

    def path(self, batch: int) -> str:
        return "torchdiffeq"


class OdeserveCore(Core):
    """odeserve's per-sample engine (float64), through one backend."""

    nfe_per = "sample"

    def __init__(self, runner: ModelRunner, cfg: SolverConfig) -> None:
        self.runner, self.cfg = runner, cfg
        self.name = f"odeserve {runner.backend.name}"

    def timed(self, x: np.ndarray) -> Callable[[], object]:
        z0, settings = self.runner.encode(x), SampleSettings.uniform(self.cfg, len(x))
        return lambda: self.runner.backend.solve(self.cfg.method, z0, settings)

    def outcome(self, x: np.ndarray) -> Outcome:
        sol, probs = self.runner.solve_batch(x, self.cfg.method, SampleSettings.uniform(self.cfg, len(x)))
        return Outcome(probs, sol.nfe)

    def path(self, batch: int) -> str:
        return self.runner.backend.route(self.cfg.method, batch)


def load_version(store: Path, name: str, ref: str | None) -> Version:
    """A stored version, as the service loads it (field.onnx when the version has one)."""
    models = ModelStore(store)
    folder = models.version_dir(name, ref)
    manifest = models.verify(name, ref)
    onnx_path = folder / "field.onnx"
    field_onnx = onnx_path.read_bytes() if onnx_path.is_file() else None
    return Version(load_network(folder, manifest), manifest, field_onnx)
