"""One generic explicit Runge-Kutta step, per sample, for any Butcher tableau.

Every sample has its own time and step size. The step is numpy, whatever evaluates the field: a
numpy call costs about a microsecond where a torch op costs several, and a step is some hundred of
them, which is what a batch of a few hundred samples pays per step. So that it is few calls:

- states are feature-major, [D, n] (one row per dimension, one column per sample): a per-sample
  scalar [n] broadcasts along the contiguous axis, where with [n, D] and a small D numpy would run
  n inner loops of length D, several times slower;
- the stages are stacked [S, D, n] and a stage sum is one matrix-vector product, not two calls per
  term. BLAS may round a sample's sums differently in the last bit with the batch's size, as it may
  the field's matmuls: a sample's answer is its own to float64 round-off and its step count exactly
  (an error ratio would have to sit within ~1e-12 of 1 for round-off to flip a step; the batch
  invariance tests solve samples alone and in batches of up to 4096).

Figures: benchmarks/README.md, "Big batches".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .tableaus import ButcherTableau

Field = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""f(t, z): t has one time per sample [n], z is [D, n] (float64, feature-major); returns dz/dt [D, n]."""


def weighted_sum(y: np.ndarray, h: np.ndarray, stages: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """y + h * sum_j w_j k_j; h is [n], y [D, n], the stages k_j stacked [j, D, n]."""
    acc = increment(h, stages, weights)
    acc += y
    return acc


def increment(h: np.ndarray, stages: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """h * sum_j w_j k_j, a new array: one matrix-vector product over the stacked stages."""
    assert len(weights) == len(stages)
    acc: np.ndarray = (_vector(weights) @ stages.reshape(len(weights), -1)).reshape(stages.shape[1:])
    acc *= h
    return acc


@cache
def _vector(weights: tuple[float, ...]) -> np.ndarray:
    """A tableau row as an array, made once (rows are few and fixed)."""
    vector = np.array(weights)
    vector.flags.writeable = False
    return vector


@dataclass
class Step:
    """The outcome of one step for every active sample: the solution [D, n] and the stages [S, D, n]."""

    y1: np.ndarray
    stages: np.ndarray

    @property
    def f_last(self) -> np.ndarray:
        last: np.ndarray = self.stages[-1]
        return last

    def samples(self, index: np.ndarray) -> Step:
        """The step of some samples only (dense output of the samples that reached a time)."""
        return Step(self.y1[:, index], self.stages[:, :, index])


def rk_step(
    field: Field, tab: ButcherTableau, t: np.ndarray, y: np.ndarray, h: np.ndarray, k1: np.ndarray
) -> Step:
    """Advance each sample (column) of ``y`` from ``t`` by ``h`` (both [n]); ``k1`` = f(t, y) is given."""
    stages = np.empty((tab.stages, *y.shape))
    stages[0], yi = k1, y
    for i in range(1, tab.stages):
        yi = weighted_sum(y, h, stages[:i], tab.a[i - 1])
        stages[i] = field(t + tab.c[i] * h, yi)
    # first same as last: the last stage's input is the solution, computed the same way already
    return Step(yi if tab.fsal else weighted_sum(y, h, stages, tab.b), stages)


def error_ratio(
    tab: ButcherTableau, step: Step, y0: np.ndarray, h: np.ndarray, rtol: np.ndarray, atol: np.ndarray
) -> np.ndarray:
    """Per-sample RMS of the local error over its own tolerance (accept when <= 1; NaN rejects)."""
    assert tab.b_error is not None
    err = increment(h, step.stages, tab.b_error)
    scale = atol + rtol * np.maximum(np.abs(y0), np.abs(step.y1))
    return rms(err / scale)


def rms(x: np.ndarray) -> np.ndarray:
    """Each sample's root mean square over its dimensions ([D, n] -> [n])."""
    root: np.ndarray = np.sqrt(np.square(x).mean(axis=0))
    return root
