"""The per-sample solver loop: each sample has its own time, step size, tolerances and step
count; finished samples leave the working set, so a sample's answer and NFE never depend on
its batchmates. One loop serves adaptive and fixed-step tableaus; they differ only in how
the first stage is obtained and in how a step is judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .dense import interpolate
from .rk import Field, Step, error_ratio, rk_step
from .tableaus import ButcherTableau

SAFETY, IFACTOR, DFACTOR = 0.9, 10.0, 0.2
LAST_STEP_SLACK = 1e-10


@dataclass(frozen=True)
class Solution:
    """Per-sample results, in the order of the inputs: numpy arrays, whichever backend solved
    (the answers are read as numpy and lists; a torch round trip per solve costs more than a
    one-point solve's bookkeeping)."""

    final: np.ndarray  # [B, D] float64 state at t1
    outputs: np.ndarray | None  # [T, B, D] states at the requested times
    nfe: np.ndarray  # [B] int64 function evaluations
    accepted: np.ndarray | None  # [B] int64 accepted steps; None: unknown (torchdiffeq does not say)
    rejected: np.ndarray | None  # [B] int64 rejected steps; None: unknown, as accepted
    failed: np.ndarray  # [B] bool, True where max_steps ran out before t1
    probabilities: np.ndarray | None = None  # [B, C] at t1, when the backend also applied the head


@dataclass
class _Out:
    """The torch solver's results as they are filled in (rows leave the working set in any order)."""

    final: torch.Tensor
    outputs: torch.Tensor | None
    nfe: torch.Tensor
    accepted: torch.Tensor
    rejected: torch.Tensor
    failed: torch.Tensor

    def solution(self) -> Solution:
        """The finished results as numpy (CPU tensors: no copy)."""
        return Solution(
            final=self.final.detach().numpy(),
            outputs=None if self.outputs is None else self.outputs.detach().numpy(),
            nfe=self.nfe.detach().numpy(),
            accepted=self.accepted.detach().numpy(),
            rejected=self.rejected.detach().numpy(),
            failed=self.failed.detach().numpy(),
        )


@dataclass
class _Work:
    """The still-running samples (compacted); ``rows`` maps them back to input positions."""

    rows: torch.Tensor
    t: torch.Tensor
    h: torch.Tensor
    y: torch.Tensor
    f0: torch.Tensor | None
    rtol: torch.Tensor
    atol: torch.Tensor
    max_steps: torch.Tensor
    nfe: torch.Tensor
    accepted: torch.Tensor
    rejected: torch.Tensor
    next_out: torch.Tensor

    def keep(self, mask: torch.Tensor) -> _Work:
        return _Work(
            rows=self.rows[mask],
            t=self.t[mask],
            h=self.h[mask],
            y=self.y[mask],
            f0=None if self.f0 is None else self.f0[mask],
            rtol=self.rtol[mask],
            atol=self.atol[mask],
            max_steps=self.max_steps[mask],
            nfe=self.nfe[mask],
            accepted=self.accepted[mask],
            rejected=self.rejected[mask],
            next_out=self.next_out[mask],
        )


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean(dim=1).sqrt()


def initial_step(
    field: Field,
    tab: ButcherTableau,
    t0: torch.Tensor,
    y0: torch.Tensor,
    f0: torch.Tensor,
    rtol: torch.Tensor,
    atol: torch.Tensor,
) -> torch.Tensor:
    """Hairer, Norsett & Wanner's starting step, per sample (costs one evaluation)."""
    scale = atol.unsqueeze(1) + y0.abs() * rtol.unsqueeze(1)
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
    f1 = field(t0 + h0, y0 + h0.unsqueeze(1) * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    dmax = torch.maximum(d1, d2)
    h1 = torch.where(
        dmax <= 1e-15, torch.clamp(h0 * 1e-3, min=1e-6), (0.01 / dmax) ** (1.0 / (tab.order + 1))
    )
    return torch.minimum(100 * h0, h1)


def next_step_size(h: torch.Tensor, ratio: torch.Tensor, order: int) -> torch.Tensor:
    """Standard controller: shrink at most 5x after a rejection, grow at most 10x."""
    safe = torch.nan_to_num(ratio, nan=float("inf"))
    factor = safe.clamp(min=1e-300) ** (-1.0 / order) * SAFETY  # a zero error grows by IFACTOR
    dfactor = torch.where(safe < 1, torch.ones_like(h), torch.full_like(h, DFACTOR))
    return h * torch.minimum(torch.full_like(h, IFACTOR), torch.maximum(factor, dfactor))


def integrate(
    field: Field,
    tab: ButcherTableau,
    y0: torch.Tensor,
    t0: float,
    t1: float,
    *,
    rtol: torch.Tensor,
    atol: torch.Tensor,
    step_size: torch.Tensor,
    max_steps: torch.Tensor,
    times: torch.Tensor | None = None,
) -> Solution:
    """Solve dz/dt = f(t, z) from t0 to t1 for every row of ``y0`` independently."""
    batch = y0.shape[0]
    zeros = torch.zeros(batch, dtype=torch.long)
    sol = _Out(
        final=torch.empty_like(y0),
        nfe=zeros.clone(),
        accepted=zeros.clone(),
        rejected=zeros.clone(),
        failed=torch.zeros(batch, dtype=torch.bool),
        outputs=None if times is None else torch.empty(len(times), *y0.shape, dtype=y0.dtype),
    )
    t = torch.full((batch,), float(t0), dtype=y0.dtype)
    w = _Work(
        rows=torch.arange(batch),
        t=t,
        h=step_size.to(y0.dtype).clone(),
        y=y0,
        f0=None,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        nfe=zeros.clone(),
        accepted=zeros.clone(),
        rejected=zeros.clone(),
        next_out=zeros.clone(),
    )
    if times is not None:
        assert sol.outputs is not None  # allocated above whenever times are asked for
        at_start = int((times <= t0).sum())
        sol.outputs[:at_start] = y0
        w.next_out.fill_(at_start)
    if tab.adaptive:
        w.f0 = field(t, y0)
        w.h = initial_step(field, tab, t, y0, w.f0, rtol, atol)
        w.nfe += 2
    while w.rows.numel():
        w = _advance(field, tab, w, t1, times, sol)
    return sol.solution()


def _advance(
    field: Field, tab: ButcherTableau, w: _Work, t1: float, times: torch.Tensor | None, sol: _Out
) -> _Work:
    """One step for every running sample; returns the samples still running."""
    remaining = t1 - w.t
    last = w.h >= remaining * (1 - LAST_STEP_SLACK)
    h = torch.where(last, remaining, w.h)
    if w.f0 is None:
        k1 = field(w.t, w.y)
        w.nfe += 1
    else:
        k1 = w.f0
    step = rk_step(field, tab, w.t, w.y, h, k1)
    w.nfe += tab.stages - 1
    if tab.adaptive:
        ratio = error_ratio(tab, step, w.y, h, w.rtol, w.atol)
        accept = ratio <= 1
        w.h = next_step_size(h, ratio, tab.order)
    else:
        accept = torch.ones_like(last)
    t_new = torch.where(accept, torch.where(last, torch.full_like(h, t1), w.t + h), w.t)
    if times is not None:
        _emit(tab, w, step, h, t_new, accept, times, sol)
    w.accepted += accept
    w.rejected += ~accept
    w.y = torch.where(accept.unsqueeze(1), step.y1, w.y)
    if w.f0 is not None:
        w.f0 = torch.where(accept.unsqueeze(1), step.f_last, w.f0)
    w.t = t_new
    done = accept & last
    failed = ~done & (w.accepted + w.rejected >= w.max_steps)
    return _finish(w, done | failed, failed, sol)


def _emit(
    tab: ButcherTableau,
    w: _Work,
    step: Step,
    h: torch.Tensor,
    t_new: torch.Tensor,
    accept: torch.Tensor,
    times: torch.Tensor,
    sol: _Out,
) -> None:
    """Record the states at requested times that fall inside each accepted step."""
    assert sol.outputs is not None
    n_times = len(times)
    while True:
        idx = w.next_out.clamp(max=n_times - 1)
        due = accept & (w.next_out < n_times) & (times[idx] <= t_new)
        if not bool(due.any()):
            return
        rows = due.nonzero().squeeze(1)
        tau = times[idx[rows]]
        x = ((tau - w.t[rows]) / h[rows]).clamp(0.0, 1.0)
        picked = Step(step.y1[rows], [k[rows] for k in step.stages])
        value = interpolate(tab, w.y[rows], picked, h[rows], x)
        exact = (tau == t_new[rows]).unsqueeze(1)
        sol.outputs[idx[rows], w.rows[rows]] = torch.where(exact, step.y1[rows], value)
        w.next_out[rows] += 1


def _finish(w: _Work, leaving: torch.Tensor, failed: torch.Tensor, sol: _Out) -> _Work:
    """Copy finished samples into the solution and drop them from the working set."""
    if not bool(leaving.any()):
        return w
    rows = w.rows[leaving]
    sol.final[rows] = w.y[leaving]
    sol.nfe[rows] = w.nfe[leaving]
    sol.accepted[rows] = w.accepted[leaving]
    sol.rejected[rows] = w.rejected[leaving]
    sol.failed[rows] = failed[leaving]
    return w.keep(~leaving)
