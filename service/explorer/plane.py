"""A box of a plane as the explorer's answers lay it out: row j, column i is (xs[i], ys[j])."""

from __future__ import annotations

from typing import Any

import numpy as np

Box = tuple[tuple[float, float], tuple[float, float]]


def axes(bounds: Box, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """xs and ys: ``nx`` and ``ny`` evenly spaced points over the box, ends included."""
    (x0, x1), (y0, y1) = bounds
    return np.linspace(x0, x1, resolution[0]), np.linspace(y0, y1, resolution[1])


def points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Every (xs[i], ys[j]) as [ny * nx, 2], row by row: point j * nx + i."""
    gx, gy = np.meshgrid(xs, ys)  # [ny, nx] each
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def rows(values: np.ndarray, nx: int) -> list[Any]:
    """Per-point values (in :func:`points`' order) nested as the answer's [ny][nx][...]."""
    nested: list[Any] = np.asarray(values).reshape(-1, nx, *np.shape(values)[1:]).tolist()
    return nested
