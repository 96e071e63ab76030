"""What the report's pictures show, solved from the stored network: numbers only, no drawing.

Everything is solved with torchdiffeq at the manifest's default (serving) solver, through the
training solvers (``training.solvers``), so a picture shows what the model answers when served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models_store import OdeClassifier, SolverDefaults

from ..evaluation import predict_logits
from ..solvers import solve_at

Box = tuple[float, float, float, float]
"""x min, x max, y min, y max."""


@dataclass(frozen=True)
class Trajectories:
    """z(t) of some inputs: ``times`` [T], ``states`` [T, B, D], class ``probabilities`` [T, B, C]."""

    times: np.ndarray
    states: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class PlaneGrid:
    """Values over a regular grid of a plane: ``xx``, ``yy`` [R, R] and ``values`` [R, R, ...]."""

    xx: np.ndarray
    yy: np.ndarray
    values: np.ndarray


def bounding_box(points: np.ndarray, margin: float = 0.1) -> Box:
    """The smallest box around 2-D ``points`` [N, 2], widened by ``margin`` of its size on each side."""
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-6)
    return float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])


def _grid(box: Box, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(box[0], box[1], resolution, dtype=np.float32)
    ys = np.linspace(box[2], box[3], resolution, dtype=np.float32)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy


@torch.no_grad()
def probability_grid(network: OdeClassifier, solver: SolverDefaults, box: Box, resolution: int) -> PlaneGrid:
    """Class probabilities [R, R, C] over the input plane (2-D inputs), solved as one batch."""
    xx, yy = _grid(box, resolution)
    x = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))
    probabilities = torch.softmax(predict_logits(network, x, solver), dim=1).numpy()
    return PlaneGrid(xx, yy, probabilities.reshape(resolution, resolution, -1))


@torch.no_grad()
def trajectories(
    network: OdeClassifier,
    x: torch.Tensor,
    solver: SolverDefaults,
    interval: tuple[float, float],
    points: int,
) -> Trajectories:
    """z(t) and the class probabilities head(z(t)) at ``points`` times over ``interval``."""
    times = torch.linspace(interval[0], interval[1], points)
    states = solve_at(network.field, network.initial_state(x), solver, times)
    probabilities = torch.softmax(network.head(states), dim=-1)
    return Trajectories(times.numpy(), states.numpy(), probabilities.numpy())


@torch.no_grad()
def field_on_plane(
    network: OdeClassifier, axes: tuple[int, int], box: Box, resolution: int, t: float
) -> PlaneGrid:
    """f(t, z) projected on the plane of state dimensions ``axes`` (the others held at 0): [R, R, 2]."""
    xx, yy = _grid(box, resolution)
    z = torch.zeros(resolution * resolution, network.spec.state_dim)
    z[:, axes[0]], z[:, axes[1]] = torch.from_numpy(xx.ravel()), torch.from_numpy(yy.ravel())
    dz = network.field(torch.tensor(t), z)[:, list(axes)].numpy()
    return PlaneGrid(xx, yy, dz.reshape(resolution, resolution, 2))
