"""The per-sample solver loop: each sample has its own time, step size, tolerances and step
count; finished samples leave the working set, so a sample's answer and NFE never depend on
its batchmates, and a batch does the work of its samples' own steps (sum over samples), not of
its slowest sample's steps times the batch. One loop serves adaptive and fixed-step tableaus;
they differ only in how the first stage is obtained and in how a step is judged.

The loop is numpy, float64, whatever evaluates the field (torch for the reference, numpy for big
batches: ``backends.py``), with the working states feature-major ([D, n], see ``rk.py``);
arithmetic follows IEEE without warnings, as torch's does (a diverging sample turns inf/NaN, is
rejected, and runs out of steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dense import interpolate
from .rk import Field, Step, error_ratio, rk_step, rms
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
    """The solver's results as they are filled in (rows leave the working set in any order)."""

    final: np.ndarray
    outputs: np.ndarray | None
    nfe: np.ndarray
    accepted: np.ndarray
    rejected: np.ndarray
    failed: np.ndarray

    def solution(self) -> Solution:
        return Solution(self.final, self.outputs, self.nfe, self.accepted, self.rejected, self.failed)


@dataclass
class _Work:
    """The still-running samples (compacted); ``rows`` maps them back to input positions. States
    ``y`` and ``f0`` are [D, n], everything else [n]."""

    rows: np.ndarray
    t: np.ndarray
    h: np.ndarray
    y: np.ndarray
    f0: np.ndarray | None
    rtol: np.ndarray
    atol: np.ndarray
    max_steps: np.ndarray
    nfe: np.ndarray
    accepted: np.ndarray
    rejected: np.ndarray
    next_out: np.ndarray

    def keep(self, mask: np.ndarray) -> _Work:
        i = np.flatnonzero(mask)  # one index for the twelve arrays: cheaper than twelve mask scans
        return _Work(
            rows=self.rows[i],
            t=self.t[i],
            h=self.h[i],
            y=self.y[:, i],
            f0=None if self.f0 is None else self.f0[:, i],
            rtol=self.rtol[i],
            atol=self.atol[i],
            max_steps=self.max_steps[i],
            nfe=self.nfe[i],
            accepted=self.accepted[i],
            rejected=self.rejected[i],
            next_out=self.next_out[i],
        )


def initial_step(
    field: Field,
    tab: ButcherTableau,
    t0: np.ndarray,
    y0: np.ndarray,
    f0: np.ndarray,
    rtol: np.ndarray,
    atol: np.ndarray,
) -> np.ndarray:
    """Hairer, Norsett & Wanner's starting step, per sample (costs one evaluation)."""
    scale = atol + np.abs(y0) * rtol
    d0, d1 = rms(y0 / scale), rms(f0 / scale)
    h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    f1 = field(t0 + h0, y0 + h0 * f0)
    d2 = rms((f1 - f0) / scale) / h0
    dmax = np.maximum(d1, d2)
    h1 = np.where(dmax <= 1e-15, np.maximum(h0 * 1e-3, 1e-6), (0.01 / dmax) ** (1.0 / (tab.order + 1)))
    h: np.ndarray = np.minimum(100 * h0, h1)
    return h


def next_step_size(h: np.ndarray, ratio: np.ndarray, order: int) -> np.ndarray:
    """Standard controller: shrink at most 5x after a rejection, grow at most 10x."""
    safe = np.where(np.isnan(ratio), np.inf, ratio)  # a NaN error shrinks the step as an infinite one
    factor = np.maximum(safe, 1e-300) ** (-1.0 / order) * SAFETY  # a zero error grows by IFACTOR
    dfactor = np.where(safe < 1, 1.0, DFACTOR)
    grown: np.ndarray = h * np.minimum(IFACTOR, np.maximum(factor, dfactor))
    return grown


def integrate(
    field: Field,
    tab: ButcherTableau,
    y0: np.ndarray,
    t0: float,
    t1: float,
    *,
    rtol: np.ndarray,
    atol: np.ndarray,
    step_size: np.ndarray,
    max_steps: np.ndarray,
    times: np.ndarray | None = None,
) -> Solution:
    """Solve dz/dt = f(t, z) from t0 to t1 for every row of ``y0`` [B, D] independently; the
    settings are [B] arrays, ``times`` [T] (sorted, inside the interval) asks for dense output.
    The field is called feature-major (``rk.Field``); the solution is row-major, as ``y0``."""
    y0 = np.asarray(y0, dtype=np.float64)
    batch = y0.shape[0]
    zeros = np.zeros(batch, dtype=np.int64)
    sol = _Out(
        final=np.empty_like(y0),
        nfe=zeros.copy(),
        accepted=zeros.copy(),
        rejected=zeros.copy(),
        failed=np.zeros(batch, dtype=bool),
        outputs=None if times is None else np.empty((len(times), *y0.shape)),
    )
    t = np.full(batch, float(t0))
    w = _Work(
        rows=np.arange(batch),
        t=t,
        h=np.array(step_size, dtype=np.float64),
        y=np.ascontiguousarray(y0.T),
        f0=None,
        rtol=np.asarray(rtol, dtype=np.float64),
        atol=np.asarray(atol, dtype=np.float64),
        max_steps=np.asarray(max_steps, dtype=np.int64),
        nfe=zeros.copy(),
        accepted=zeros.copy(),
        rejected=zeros.copy(),
        next_out=zeros.copy(),
    )
    if times is not None:
        assert sol.outputs is not None  # allocated above whenever times are asked for
        at_start = int((times <= t0).sum())
        sol.outputs[:at_start] = y0
        w.next_out.fill(at_start)
    with np.errstate(all="ignore"):
        if tab.adaptive:
            w.f0 = field(t, w.y)
            w.h = initial_step(field, tab, t, w.y, w.f0, w.rtol, w.atol)
            w.nfe += 2
        while len(w.rows):
            w = _advance(field, tab, w, t1, times, sol)
    return sol.solution()


def _advance(
    field: Field, tab: ButcherTableau, w: _Work, t1: float, times: np.ndarray | None, sol: _Out
) -> _Work:
    """One step for every running sample; returns the samples still running."""
    remaining = t1 - w.t
    last = w.h >= remaining * (1 - LAST_STEP_SLACK)
    h = np.where(last, remaining, w.h)
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
        accept = np.ones_like(last)
    t_new = np.where(accept, np.where(last, t1, w.t + h), w.t)
    if times is not None:
        _emit(tab, w, step, h, t_new, accept, times, sol)
    w.accepted += accept
    w.rejected += ~accept
    w.y = np.where(accept, step.y1, w.y)
    if w.f0 is not None:
        w.f0 = np.where(accept, step.f_last, w.f0)
    w.t = t_new
    done = accept & last
    failed = ~done & (w.accepted + w.rejected >= w.max_steps)
    return _finish(w, done | failed, failed, sol)


def _emit(
    tab: ButcherTableau,
    w: _Work,
    step: Step,
    h: np.ndarray,
    t_new: np.ndarray,
    accept: np.ndarray,
    times: np.ndarray,
    sol: _Out,
) -> None:
    """Record the states at requested times that fall inside each accepted step."""
    assert sol.outputs is not None
    n_times = len(times)
    while True:
        idx = np.minimum(w.next_out, n_times - 1)
        due = accept & (w.next_out < n_times) & (times[idx] <= t_new)
        if not due.any():
            return
        cols = np.flatnonzero(due)
        tau = times[idx[cols]]
        x = np.clip((tau - w.t[cols]) / h[cols], 0.0, 1.0)
        value = interpolate(tab, w.y[:, cols], step.samples(cols), h[cols], x)
        exact = tau == t_new[cols]
        sol.outputs[idx[cols], w.rows[cols]] = np.where(exact, step.y1[:, cols], value).T
        w.next_out[cols] += 1


def _finish(w: _Work, leaving: np.ndarray, failed: np.ndarray, sol: _Out) -> _Work:
    """Copy finished samples into the solution and drop them from the working set."""
    if not leaving.any():
        return w
    rows = w.rows[leaving]
    sol.final[rows] = w.y[:, leaving].T
    sol.nfe[rows] = w.nfe[leaving]
    sol.accepted[rows] = w.accepted[leaving]
    sol.rejected[rows] = w.rejected[leaving]
    sol.failed[rows] = failed[leaving]
    return w.keep(~leaving)
