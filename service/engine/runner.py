"""A loaded model version, ready to answer: encoder -> per-sample ODE solve -> head."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from models_store import FlattenEncoderSpec, Manifest, OdeClassifier

from .backends import Backend, BackendName, TorchBackend, select_backend
from .cancel import CancelToken
from .config import SampleSettings, SolverConfig
from .integrate import Solution
from .onnx import Head
from .solve import check_budget, raise_failures

_PROBE_SAMPLES = 16


@dataclass(frozen=True)
class Prediction:
    """Per-sample answers at the end of the interval."""

    labels: list[int]
    probabilities: np.ndarray  # [B, C]
    nfe: list[int]
    accepted: list[int] | None  # None: unknown (a method run through torchdiffeq, which does not say)
    rejected: list[int] | None
    batch_invariant: bool

    @classmethod
    def of(cls, probabilities: np.ndarray, sol: Solution, batch_invariant: bool) -> Prediction:
        """The answer for a whole solved batch."""
        return cls.split(probabilities, sol, [len(probabilities)], batch_invariant)[0]

    @classmethod
    def split(
        cls, probabilities: np.ndarray, sol: Solution, sizes: list[int], batch_invariant: bool
    ) -> list[Prediction]:
        """The answers of consecutive groups of ``sizes`` rows (one per request) of a solved batch;
        the per-sample figures become Python lists once per batch, not once per request (hot path)."""
        labels = probabilities.argmax(axis=1).tolist()
        nfe = sol.nfe.tolist()
        accepted = None if sol.accepted is None else sol.accepted.tolist()
        rejected = None if sol.rejected is None else sol.rejected.tolist()
        answers, start = [], 0
        for n in sizes:
            end = start + n
            answers.append(
                cls(
                    labels=labels[start:end],
                    probabilities=probabilities[start:end],
                    nfe=nfe[start:end],
                    accepted=None if accepted is None else accepted[start:end],
                    rejected=None if rejected is None else rejected[start:end],
                    batch_invariant=batch_invariant,
                )
            )
            start = end
        return answers

    @classmethod
    def join(cls, parts: list[Prediction]) -> Prediction:
        """One answer from the answers of consecutive parts of a request, solved one after another."""
        return cls(
            labels=[label for p in parts for label in p.labels],
            probabilities=np.concatenate([p.probabilities for p in parts]),
            nfe=[n for p in parts for n in p.nfe],
            accepted=_joined([p.accepted for p in parts]),
            rejected=_joined([p.rejected for p in parts]),
            batch_invariant=all(p.batch_invariant for p in parts),
        )


def _joined(counts: list[list[int] | None]) -> list[int] | None:
    """Step counts of consecutive parts, or None (unknown) when any part does not know its own."""
    known = [c for c in counts if c is not None]
    return [n for c in known for n in c] if len(known) == len(counts) else None


@dataclass(frozen=True)
class Trajectory:
    """States and class probabilities at the requested times, plus the final answer."""

    final: Prediction
    times: list[float]
    states: np.ndarray  # [T, B, D]
    probabilities: np.ndarray  # [T, B, C]

    @classmethod
    def split(
        cls,
        finals: list[Prediction],
        times: np.ndarray,
        states: np.ndarray,
        probabilities: np.ndarray,
    ) -> list[Trajectory]:
        """The trajectories of consecutive groups of samples (one per request, as ``finals``) of a
        batch solved with dense output at ``times``: states [T, B, D], probabilities [T, B, C]."""
        grid = times.tolist()
        answers, start = [], 0
        for final in finals:
            end = start + len(final.labels)
            answers.append(cls(final, grid, states[:, start:end], probabilities[:, start:end]))
            start = end
        return answers


class ModelRunner:
    """Runs one model version in float64 (tight tolerances stay meaningful; rows stay independent).

    Predictions and trajectories (dense output) go through the selected backend, which routes a
    solve by its size and method: the ONNX Runtime graph for small batches, the numpy loop for big
    ones, torch (torchdiffeq) for methods without a tableau.
    The encoder (when it only flattens and zero-pads) and the head (a linear map and a softmax)
    run in numpy, or the head inside the ONNX Runtime graph: for a one-point predict, torch's
    per-call dispatch costs a fifth of the request in the server, for a few dozen multiply-adds
    (figures in benchmarks/README.md; ``test_runner`` pins both to torch's numbers).
    """

    def __init__(
        self,
        network: OdeClassifier,
        manifest: Manifest,
        field_onnx: bytes | None = None,
        backend: BackendName = "torch",
        warm: bool = True,
    ) -> None:
        """``warm``: build every solver variant of the default method now (a server, whose first
        requests must not wait for one); False builds each on first use (a one-off command that
        needs one or two of them)."""
        self.manifest = manifest
        self.network = copy.deepcopy(network).to(torch.float64).eval().requires_grad_(False)
        self.interval = (float(manifest.interval[0]), float(manifest.interval[1]))
        self.input_shape = tuple(manifest.input.shape)
        self.reference = TorchBackend(self.network.field, self.interval)
        spec = self.network.spec
        self._pad = spec.augment_dim if isinstance(spec.encoder, FlattenEncoderSpec) else None
        self.head = Head(self.network.head.weight.numpy().copy(), self.network.head.bias.numpy().copy())
        default = SolverConfig.resolve(manifest.default_solver)
        probe = self.encode(np.random.default_rng(0).normal(size=(_PROBE_SAMPLES, *self.input_shape)))
        self.backend: Backend
        self.backend, self.backend_note = select_backend(
            backend,
            self.reference,
            field_onnx,
            default.method,
            probe,
            SampleSettings.uniform(default, _PROBE_SAMPLES),
            self.head,
        )
        if warm:
            self.backend.warm(default.method)

    def encode(self, inputs: np.ndarray) -> np.ndarray:
        """z(0) [B, D] for a batch [B, *input_shape] (augmented dimensions included), float64."""
        x = np.asarray(inputs, dtype=np.float64)
        if self._pad is None:  # a learned encoder: torch
            with torch.inference_mode():
                return self.network.initial_state(torch.from_numpy(x).reshape(-1, *self.input_shape)).numpy()
        flat = x.reshape(-1, self.network.spec.encoded_dim)
        if self._pad:
            flat = np.concatenate([flat, np.zeros((len(flat), self._pad))], axis=1)
        return flat

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """Class probabilities for states [..., D]."""
        probs = states @ self.head.weight.T + self.head.bias  # the logits, made probabilities in place
        probs -= probs.max(axis=-1, keepdims=True)  # exp cannot overflow; the softmax is unchanged
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs

    def field_at(self, t: float, states: np.ndarray) -> np.ndarray:
        """The learned vector field f(t, z) at states [N, D] (float64), as the solver evaluates it."""
        z = torch.from_numpy(np.ascontiguousarray(states, dtype=np.float64))
        with torch.inference_mode():
            dz: torch.Tensor = self.network.field(torch.full((len(z),), float(t), dtype=torch.float64), z)
        return dz.numpy()

    def solve_batch(
        self,
        inputs: np.ndarray,
        method: str,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> tuple[Solution, np.ndarray]:
        """Encode, solve with per-sample settings and decode; failed samples are flagged, not raised.
        With ``times`` (sorted, inside the interval) the solution also holds the states there."""
        sol = self.backend.solve(method, self.encode(inputs), settings, cancel, times)
        return sol, sol.probabilities if sol.probabilities is not None else self.probabilities(sol.final)

    def trajectories(
        self, sol: Solution, probs: np.ndarray, times: np.ndarray, sizes: list[int], native: bool
    ) -> list[Trajectory]:
        """One trajectory per group of ``sizes`` rows of a batch solved with ``times``."""
        assert sol.outputs is not None  # solved with times
        finals = Prediction.split(probs, sol, sizes, native)
        return Trajectory.split(finals, times, sol.outputs, self.probabilities(sol.outputs))

    def predict(self, inputs: np.ndarray, config: SolverConfig) -> Prediction:
        """Classify a batch [B, *input_shape] with one solver config."""
        batch = len(inputs)
        check_budget(config, self.interval, batch)
        sol, probs = self.solve_batch(inputs, config.method, SampleSettings.uniform(config, batch))
        raise_failures(sol, config.max_steps)
        return Prediction.of(probs, sol, config.native)

    def trajectory(
        self, inputs: np.ndarray, times: np.ndarray, config: SolverConfig, cancel: CancelToken | None = None
    ) -> Trajectory:
        """States at ``times`` (sorted, inside the interval); the final answer is predict's."""
        batch = len(inputs)
        check_budget(config, self.interval, batch)
        grid = np.asarray(times, dtype=np.float64)
        settings = SampleSettings.uniform(config, batch)
        sol, probs = self.solve_batch(inputs, config.method, settings, cancel, grid)
        raise_failures(sol, config.max_steps)
        return self.trajectories(sol, probs, grid, [batch], config.native)[0]
