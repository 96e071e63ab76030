"""Where the per-sample solve runs: torch (the reference), ONNX Runtime, or numpy for big batches.

All run the same tableaus with the same controller, so they give the same steps and NFE. A
deployment picks one (``torch``, ``onnxruntime``) or ``auto``: ONNX Runtime when its solve of
the probe inputs matches torch's, torch otherwise (the reason is kept for the model's status).
ONNX Runtime solves batches of up to :data:`ORT_MAX_BATCH` samples in its graph and hands bigger
ones to :class:`NumpyBackend` (the solver loop with the field in numpy), which passed the same
probe, or to torch when it did not.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar, Literal, cast

import numpy as np
import onnx
import onnxruntime as ort
import torch
from google.protobuf.message import DecodeError

from .cancel import Cancelled, CancelToken, checked
from .config import SampleSettings
from .integrate import Solution
from .mlp import MlpField, mlp_field
from .onnx import OUTPUTS, PROBABILITIES, STATES_AT, TIMES, FieldConversionError, Head, build_solver
from .reference import TorchField
from .solve import check_times, integrate_samples, solve_samples
from .tableaus import TABLEAUS

BackendName = Literal["auto", "torch", "onnxruntime"]
_PARITY_TOL = 1e-9
ORT_MAX_BATCH = 128


class BackendError(RuntimeError):
    """A backend that cannot serve this model (build failure or parity mismatch)."""


_ORT = ort.capi.onnxruntime_pybind11_state
_BUILD_ERRORS = (
    BackendError,
    DecodeError,
    FieldConversionError,
    onnx.checker.ValidationError,
    onnx.shape_inference.InferenceError,
    _ORT.Fail,
    _ORT.NotImplemented,
    _ORT.InvalidGraph,
    _ORT.InvalidArgument,
    _ORT.RuntimeException,
)


class Backend(ABC):
    """Solves a batch of initial states to the end of the interval, per-sample settings."""

    name: ClassVar[str]

    @abstractmethod
    def solve(
        self,
        method: str,
        y0: np.ndarray,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> Solution:
        """z(t1) and step counts for each row of ``y0`` [B, D] (float64), each with its own settings;
        with ``times`` [T] (sorted, inside the interval) also the states there, as ``outputs``
        [T, B, D] (dense output: the same steps, so the same final state and counts)."""

    def warm(self, method: str) -> None:  # noqa: B027 (a hook: most backends have nothing to build)
        """Build what serving ``method`` needs now, at load time, rather than on a first request."""

    def runs_inline(self, method: str, samples: int) -> bool:
        """Whether a step of this solve is a few compiled kernels (microseconds), so a solve with
        a bounded step budget may run on the event loop; Python step loops may not."""
        return False

    def route(self, method: str, samples: int) -> str:
        """Which solver takes a batch of ``samples`` samples with ``method`` (benchmarks name it):
        ``onnxruntime`` (the graph), ``numpy``, ``torch`` (the loop) or ``torchdiffeq``."""
        return self.name if method in TABLEAUS else "torchdiffeq"


class TorchBackend(Backend):
    """The reference: the network's own torch field in the solver loop, any method (torchdiffeq
    for those without a tableau)."""

    name = "torch"

    def __init__(self, field: TorchField, interval: tuple[float, float]) -> None:
        self.field, self.interval = field, interval

    def solve(
        self,
        method: str,
        y0: np.ndarray,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> Solution:
        grid = None if times is None else torch.from_numpy(np.asarray(times, dtype=np.float64))
        with torch.inference_mode():
            return solve_samples(
                self.field, torch.from_numpy(y0), self.interval, method, settings, grid, cancel
            )


class NumpyBackend(Backend):
    """The solver loop with the field in numpy (:mod:`.mlp`), for big batches; methods without a
    tableau go to torch.

    One thread: splitting a batch over threads (each sample's steps are its own, so the parts would
    give the same answers) gained little here, as the loop's many short numpy calls contend for the
    GIL (benchmarks/README.md, "Big batches"). numpy's BLAS threads are the process's
    (``OPENBLAS_NUM_THREADS``); the service's lifespan sets them to ``torch_threads`` (default 1).
    """

    name = "numpy"

    def __init__(self, field: MlpField, interval: tuple[float, float], fallback: TorchBackend) -> None:
        self.field, self.interval, self.fallback = field, interval, fallback

    def route(self, method: str, samples: int) -> str:
        return self.name if method in TABLEAUS else self.fallback.route(method, samples)

    def solve(
        self,
        method: str,
        y0: np.ndarray,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> Solution:
        tableau = TABLEAUS.get(method)
        if tableau is None:
            return self.fallback.solve(method, y0, settings, cancel, times)
        if times is not None:
            times = np.ascontiguousarray(times, dtype=np.float64)
            check_times(times, self.interval)
        return integrate_samples(checked(self.field, cancel), tableau, y0, self.interval, settings, times)


class OnnxRuntimeBackend(Backend):
    """One ORT session per native method, built on first use; other methods go to ``fallback``.

    Batches above :data:`ORT_MAX_BATCH` samples go to ``fallback`` too (:class:`NumpyBackend`, or
    torch): the graph's cost is per-kernel overhead, and every sample of the batch steps until the
    slowest is done, which wins for small batches, while the solver loop drops finished samples and
    evaluates the field at numpy's speed, which wins for large ones (the crossover measured on the
    moons model is in benchmarks/README.md). All take the same steps.
    """

    name = "onnxruntime"

    def __init__(
        self,
        field_onnx: bytes,
        interval: tuple[float, float],
        fallback: Backend,
        head: Head | None = None,
    ) -> None:
        self.field = onnx.load_from_string(field_onnx)
        self.interval, self.fallback, self.head = interval, fallback, head
        self._outputs = [*OUTPUTS, PROBABILITIES] if head is not None else list(OUTPUTS)
        self._sessions: dict[tuple[str, bool, bool], ort.InferenceSession] = {}
        self._lock = threading.Lock()

    def session(self, method: str, mixed_budgets: bool = False, times: bool = False) -> ort.InferenceSession:
        """The session for ``method``; ``mixed_budgets``: for a batch whose samples' max_steps differ;
        ``times``: the trajectory variant (states at requested times as well)."""
        key = (method, mixed_budgets, times)
        session = self._sessions.get(key)  # built once; the lock only guards building (hot path)
        if session is not None:
            return session
        with self._lock:
            if key not in self._sessions:
                tab = TABLEAUS[method]
                graph = build_solver(
                    tab, self.field, *self.interval, mixed_budgets=mixed_budgets, head=self.head, times=times
                )
                options = ort.SessionOptions()
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                options.log_severity_level = 3
                self._sessions[key] = ort.InferenceSession(
                    graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[key]

    def runs_inline(self, method: str, samples: int) -> bool:
        return self._in_graph(method, samples)

    def route(self, method: str, samples: int) -> str:
        return self.name if self._in_graph(method, samples) else self.fallback.route(method, samples)

    def warm(self, method: str) -> None:
        """Every graph variant (budgets equal or mixed, predict or trajectory), built at load: a first
        such solve may run on the event loop, which must not wait for a session to be built."""
        if self._in_graph(method, 1):
            for mixed in (False, True):
                for times in (False, True):
                    self.session(method, mixed, times)

    @staticmethod
    def _in_graph(method: str, samples: int) -> bool:
        native = method in TABLEAUS  # the ONNX graph runs tableaus only
        return native and samples <= ORT_MAX_BATCH

    def solve(
        self,
        method: str,
        y0: np.ndarray,
        settings: SampleSettings,
        cancel: CancelToken | None = None,
        times: np.ndarray | None = None,
    ) -> Solution:
        if not self._in_graph(method, len(y0)) or (times is not None and not len(times)):
            return self.fallback.solve(method, y0, settings, cancel, times)
        if times is not None:
            times = np.ascontiguousarray(times, dtype=np.float64)
            check_times(times, self.interval)
        return self._solve(method, y0, settings, times, cancel)

    def _solve(
        self,
        method: str,
        y0: np.ndarray,
        settings: SampleSettings,
        times: np.ndarray | None,
        cancel: CancelToken | None,
    ) -> Solution:
        max_steps = settings.max_steps
        feed = {
            "z0": y0,
            "rtol": settings.rtol[:, None],
            "atol": settings.atol[:, None],
            "step": settings.step_size[:, None],
            "max_steps": max_steps[:, None],
        }
        names = self._outputs
        if times is not None:
            feed[TIMES] = times
            names = [*names, STATES_AT]
        mixed = len(max_steps) > 1 and bool((max_steps != max_steps[0]).any())
        session = self.session(method, mixed, times is not None)
        z1, nfe, accepted, rejected, failed, *extra = self._run(session, feed, cancel, names)
        states_at = extra.pop() if times is not None else None
        return Solution(
            final=z1,
            # [B, T, D] in the graph; [T, B, D] as torch's dense output
            outputs=None if states_at is None else np.ascontiguousarray(states_at.transpose(1, 0, 2)),
            nfe=nfe[:, 0],
            accepted=accepted[:, 0],
            rejected=rejected[:, 0],
            failed=failed[:, 0],
            probabilities=extra[0] if extra else None,
        )

    def _run(
        self,
        session: ort.InferenceSession,
        feed: dict[str, np.ndarray],
        cancel: CancelToken | None,
        names: list[str] | None = None,
    ) -> list[np.ndarray]:
        """One session run; a cancelled token terminates it between kernels (inside the Loop too)."""
        # The outputs are named: ORT would list the names again on every run. onnxruntime ships no
        # type information; its run() returns one numpy array per output named, as cast below.
        names = self._outputs if names is None else names
        if cancel is None:
            return cast("list[np.ndarray]", session.run(names, feed))
        options = ort.RunOptions()
        options.log_severity_level = 4  # a terminated run is expected here, not an error to print
        with cancel.hook(lambda: setattr(options, "terminate", True)):
            try:
                return cast("list[np.ndarray]", session.run(names, feed, options))
            except _ORT.Fail:
                if cancel.cancelled:
                    raise Cancelled() from None
                raise


def parity(
    candidate: Backend, reference: Backend, method: str, probe: np.ndarray, settings: SampleSettings
) -> str | None:
    """None when ``candidate`` reproduces ``reference`` on the probe, else what differs."""
    got, want = candidate.solve(method, probe, settings), reference.solve(method, probe, settings)
    if not np.array_equal(got.nfe, want.nfe) or not np.array_equal(got.failed, want.failed):
        return f"{candidate.name} NFE differ from torch on the probe inputs ({method})"
    gap = float((np.abs(got.final - want.final) / (1 + np.abs(want.final))).max())
    if not np.isfinite(gap) or gap > _PARITY_TOL:
        return f"{candidate.name} states differ from torch by {gap:.2e} on the probe inputs ({method})"
    return None


def select_backend(
    preference: BackendName,
    reference: TorchBackend,
    field_onnx: bytes | None,
    method: str,
    probe: np.ndarray,
    settings: SampleSettings,
    head: Head | None = None,
) -> tuple[Backend, str | None]:
    """The backend to serve with, and why ONNX Runtime was passed over (None when it was not);
    ``head``: ONNX Runtime also reads out the class probabilities."""
    if preference == "torch":
        return reference, None
    try:
        if field_onnx is None:
            raise BackendError("the version has no field.onnx")
        big = big_batches(reference, method, probe, settings)
        candidate = OnnxRuntimeBackend(field_onnx, reference.interval, big, head)
        problem = parity(candidate, reference, method, probe, settings)
    except _BUILD_ERRORS as exc:
        problem = f"onnxruntime backend unavailable: {exc}"
    if problem is None:
        return candidate, None
    if preference == "onnxruntime":
        raise BackendError(problem)
    return reference, problem


def big_batches(reference: TorchBackend, method: str, probe: np.ndarray, settings: SampleSettings) -> Backend:
    """What solves batches too big for the ONNX graph: numpy when the field is an MLP it can
    evaluate and it reproduces torch on the probe, torch otherwise."""
    field = mlp_field(reference.field)
    if field is None:
        return reference
    candidate = NumpyBackend(field, reference.interval, reference)
    return candidate if parity(candidate, reference, method, probe, settings) is None else reference
