"""A loaded model version, ready to answer: encoder -> per-sample ODE solve -> head."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from models_store import Manifest, OdeClassifier

from .config import SolverConfig
from .integrate import Solution
from .solve import solve


@dataclass(frozen=True)
class Prediction:
    """Per-sample answers at the end of the interval."""

    labels: list[int]
    probabilities: np.ndarray  # [B, C]
    nfe: list[int]
    accepted: list[int]
    rejected: list[int]
    batch_invariant: bool


@dataclass(frozen=True)
class Trajectory:
    """States and class probabilities at the requested times, plus the final answer."""

    final: Prediction
    times: list[float]
    states: np.ndarray  # [T, B, D]
    probabilities: np.ndarray  # [T, B, C]


class ModelRunner:
    """Runs one model version in float64 (tight tolerances stay meaningful; rows stay independent)."""

    def __init__(self, network: OdeClassifier, manifest: Manifest) -> None:
        self.manifest = manifest
        self.network = copy.deepcopy(network).to(torch.float64).eval()
        self.interval = (float(manifest.interval[0]), float(manifest.interval[1]))
        self.input_shape = tuple(manifest.input.shape)

    def predict(self, inputs: np.ndarray, config: SolverConfig) -> Prediction:
        """Classify a batch [B, *input_shape]."""
        sol = self._solve(inputs, config, None)
        return self._prediction(sol, config)

    def trajectory(self, inputs: np.ndarray, times: np.ndarray, config: SolverConfig) -> Trajectory:
        """States at ``times`` (sorted, inside the interval); the final answer is predict's."""
        grid = torch.as_tensor(np.asarray(times, dtype=np.float64))
        sol = self._solve(inputs, config, grid)
        assert sol.outputs is not None
        with torch.inference_mode():
            probs = torch.softmax(self.network.head(sol.outputs), dim=-1)
        return Trajectory(final=self._prediction(sol, config), times=grid.tolist(),
                          states=sol.outputs.numpy(), probabilities=probs.numpy())

    def _solve(self, inputs: np.ndarray, config: SolverConfig, times: torch.Tensor | None) -> Solution:
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float64)).reshape(-1, *self.input_shape)
        with torch.inference_mode():
            z0 = self.network.initial_state(x)
            return solve(self.network.field, z0, self.interval, config, times)

    def _prediction(self, sol: Solution, config: SolverConfig) -> Prediction:
        with torch.inference_mode():
            probs = torch.softmax(self.network.head(sol.final), dim=-1)
        return Prediction(labels=probs.argmax(dim=1).tolist(), probabilities=probs.numpy(),
                          nfe=sol.nfe.tolist(), accepted=sol.accepted.tolist(), rejected=sol.rejected.tolist(),
                          batch_invariant=config.native)
