"""The report's figures, drawn the way the tutorials draw them, with matplotlib's object API only.

Each function returns a :class:`~matplotlib.figure.Figure` on its own Agg canvas: pyplot is never
imported, so nothing here touches matplotlib's global figure registry or backend and two reports
can be drawn side by side. Class colours are the tutorials' (coral, dark violet; tab10 past two
classes); the vector field is the tutorial's streamplot over ``RdYlBu`` contours of its norm.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, ListedColormap
from matplotlib.figure import Figure

from models_store import EpochRecord

from .flow import PlaneGrid, Trajectories

DPI: Final = 100
SIZES: Final[dict[str, tuple[float, float]]] = {
    "learning_curves.png": (9, 3),
    "decision_boundary.png": (6, 4.5),
    "trajectories.png": (8, 4),
    "vector_field.png": (8, 4),
    "nfe_histogram.png": (6, 4),
    "confusion_matrix.png": (5.5, 5),
    "probabilities.png": (8, 4),
}
"""Inches per figure; at DPI these are the PNGs' pixel sizes, fixed by name whatever the model."""
_TWO_CLASSES: Final = ("coral", "darkviolet")
_TAB10: Final = tuple(f"C{i}" for i in range(10))


def class_colors(count: int) -> list[str]:
    """The tutorials' two class colours, or matplotlib's ten cycled for more classes."""
    return list(_TWO_CLASSES) if count == 2 else [_TAB10[i % 10] for i in range(count)]


def new_figure(name: str) -> Figure:
    """An empty figure of ``name``'s size on its own Agg canvas (constrained layout)."""
    figure = Figure(figsize=SIZES[name], dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG, exactly SIZES x DPI pixels (no tight bbox); no software tag, so it is
    byte-identical when drawn again from the same numbers."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def learning_curves(history: Sequence[EpochRecord]) -> Figure:
    """Loss, accuracy and forward NFE per epoch; validation where training measured it."""
    figure = new_figure("learning_curves.png")
    epochs = [r.epoch for r in history]
    val = [r.val for r in history]
    series: tuple[tuple[str, list[float | None], list[float | None] | None], ...] = (
        ("loss", [r.loss for r in history], [v.loss if v else None for v in val]),
        ("accuracy", [r.accuracy for r in history], [v.accuracy if v else None for v in val]),
        ("NFE per batch (forward)", [r.nfe for r in history], None),
    )
    for ax, (title, train, validation) in zip(figure.subplots(1, 3), series, strict=True):
        ax.plot(epochs, _floats(train), color="C0", label="train")
        if validation is not None:
            ax.plot(epochs, _floats(validation), color="C1", label="validation")
            ax.legend(fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    return figure


def _floats(values: Sequence[float | None]) -> np.ndarray:
    """None (a number that was not finite) as NaN: a gap in the line."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def decision_boundary(grid: PlaneGrid, x: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> Figure:
    """P(class) over the input plane (binary: P of the second class; else the likeliest class),
    the 0.5 contour, and the data on top."""
    figure = new_figure("decision_boundary.png")
    ax = figure.add_subplot()
    colors = class_colors(len(classes))
    if len(classes) == 2:
        cmap = LinearSegmentedColormap.from_list("two_classes", [colors[0], "white", colors[1]])
        steps = np.linspace(0, 1, 21)
        filled = ax.contourf(grid.xx, grid.yy, grid.values[..., 1], levels=steps, cmap=cmap, alpha=0.5)
        ax.contour(grid.xx, grid.yy, grid.values[..., 1], levels=[0.5], colors="k", linewidths=1)
        figure.colorbar(filled, ax=ax, label=f"P({classes[1]})")
    else:
        levels = np.arange(len(classes) + 1) - 0.5
        regions = ListedColormap(colors)
        ax.contourf(grid.xx, grid.yy, grid.values.argmax(-1), levels=levels, cmap=regions, alpha=0.5)
    _scatter_classes(ax, x, y, classes)
    ax.set_aspect("equal")
    ax.set_title("Decision boundary (test data)")
    ax.set_xlabel(r"$x_0$")
    ax.set_ylabel(r"$x_1$")
    return figure


def _scatter_classes(ax: Axes, x: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> None:
    colors = class_colors(len(classes))
    for index, label in enumerate(classes):
        mine = y == index
        ax.scatter(
            x[mine, 0], x[mine, 1], s=14, color=colors[index], edgecolors="k", linewidths=0.4, label=label
        )
    ax.legend(fontsize=8, loc="best")


def trajectories(flow: Trajectories, y: np.ndarray, classes: Sequence[str], augmented: bool) -> Figure:
    """How the inputs move over depth t. A NODE: each state dimension over t (the tutorials'
    "Dimension 0" and "Dimension 1"); an ANODE: the 3-D state space (z0, z1 and the augmented a0),
    and a0 over t, the dimension that lets the classes pass each other."""
    figure = new_figure("trajectories.png")
    colors = np.array(class_colors(len(classes)))[y]
    if augmented:
        figure.set_layout_engine("constrained", wspace=0.12)  # room for the 3-D plot's z label
        _state_space_3d(figure.add_subplot(1, 2, 1, projection="3d"), flow, colors)
        _over_depth(figure.add_subplot(1, 2, 2), flow, colors, 2, r"$a_0(t)$", "Augmented dimension")
    else:
        _over_depth(figure.add_subplot(1, 2, 1), flow, colors, 0, r"$z_0(t)$", "Dimension 0")
        _over_depth(figure.add_subplot(1, 2, 2), flow, colors, 1, r"$z_1(t)$", "Dimension 1")
    return figure


def _over_depth(ax: Axes, flow: Trajectories, colors: np.ndarray, dim: int, label: str, title: str) -> None:
    for i in range(flow.states.shape[1]):
        ax.plot(flow.times, flow.states[:, i, dim], color=colors[i], alpha=0.4)
    ax.set_title(title)
    ax.set_xlabel(r"$t$ [depth]")
    ax.set_ylabel(label)


def vector_field(
    planes: Sequence[tuple[PlaneGrid, tuple[str, str]]],
    flow: Trajectories,
    y: np.ndarray,
    classes: Sequence[str],
) -> Figure:
    """The learned field at t = 0: streamlines over contours of its norm.

    A NODE gets the tutorial's pair (state-space diagram, learned vector field); an ANODE the plane
    of z0, z1 (at a0 = 0, where every input starts) and the plane of z0 and a0.
    """
    figure = new_figure("vector_field.png")
    axes = figure.subplots(1, 2)
    if len(planes) == 1:
        _state_space(axes[0], flow, np.array(class_colors(len(classes)))[y])
    for ax, (grid, labels) in zip(axes[2 - len(planes) :], planes, strict=True):
        _field(ax, grid, labels)
    return figure


def _state_space_3d(ax: Axes, flow: Trajectories, colors: np.ndarray) -> None:
    """On a 3-D axes (typed as plain Axes: mplot3d ships no type information, hence ``ax.set``)."""
    for i in range(flow.states.shape[1]):
        ax.plot(flow.states[:, i, 0], flow.states[:, i, 1], flow.states[:, i, 2], color=colors[i], alpha=0.4)
    ax.set_title("State space")
    ax.set_xlabel(r"$z_0$")
    ax.set_ylabel(r"$z_1$")
    ax.set(zlabel=r"$a_0$")
    ax.tick_params(labelsize=7)


def _state_space(ax: Axes, flow: Trajectories, colors: np.ndarray) -> None:
    for i in range(flow.states.shape[1]):
        ax.plot(flow.states[:, i, 0], flow.states[:, i, 1], color=colors[i], alpha=0.4)
    ax.scatter(flow.states[0, :, 0], flow.states[0, :, 1], s=6, color=colors)
    ax.set_title("State-space diagram")
    ax.set_xlabel(r"$z_0$")
    ax.set_ylabel(r"$z_1$")


def _field(ax: Axes, grid: PlaneGrid, labels: tuple[str, str]) -> None:
    u, v = grid.values[..., 0], grid.values[..., 1]
    ax.contourf(grid.xx, grid.yy, np.hypot(u, v), cmap="RdYlBu")
    ax.streamplot(grid.xx, grid.yy, u, v, color="k", linewidth=0.6, density=0.9)
    ax.set_xlim(grid.xx.min(), grid.xx.max())
    ax.set_ylim(grid.yy.min(), grid.yy.max())
    ax.set_title(f"Learned vector field ({labels[0]}, {labels[1]})")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])


def nfe_histogram(nfe: Sequence[int]) -> Figure:
    """Per-sample NFE over the test split, each sample solved alone at the default solver."""
    figure = new_figure("nfe_histogram.png")
    ax = figure.add_subplot()
    values = np.asarray(nfe)
    edges = [float(v) - 0.5 for v in range(int(values.min()), int(values.max()) + 2)]
    bins: int | list[float] = edges if len(edges) <= 80 else 40  # one bar per NFE value while they fit
    ax.hist(values, bins=bins, color="C0", edgecolor="k", linewidth=0.3)
    ax.axvline(values.mean(), color="C3", linestyle="--", label=f"mean {values.mean():.1f}")
    ax.set_title(
        f"NFE per test sample (p50 {np.percentile(values, 50):g}, p95 {np.percentile(values, 95):g})"
    )
    ax.set_xlabel("function evaluations (NFE)")
    ax.set_ylabel("test samples")
    ax.legend(fontsize=8)
    return figure


def confusion_matrix(y: np.ndarray, predicted: np.ndarray, classes: Sequence[str]) -> Figure:
    """Counts of true class (rows) against predicted class (columns) over the test split."""
    figure = new_figure("confusion_matrix.png")
    ax = figure.add_subplot()
    count = len(classes)
    matrix = np.zeros((count, count), dtype=np.int64)
    np.add.at(matrix, (y, predicted), 1)
    ax.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            color = "white" if value > matrix.max() / 2 else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(count), labels=classes, fontsize=7)
    ax.set_yticks(range(count), labels=classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix (test accuracy {np.mean(y == predicted):.3f})")
    return figure


def probabilities(flow: Trajectories, x: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> Figure:
    """Class probabilities over depth t for a few test inputs, each shown above its curves when
    it is an image."""
    figure = new_figure("probabilities.png")
    count, images = flow.states.shape[1], x.ndim == 4
    grid = figure.add_gridspec(2 if images else 1, count, height_ratios=[1, 1.4] if images else None)
    colors = class_colors(len(classes))
    for i in range(count):
        if images:
            picture = figure.add_subplot(grid[0, i])
            picture.imshow(x[i, 0], cmap="gray_r")
            picture.set_axis_off()
            picture.set_title(f"true {classes[y[i]]}", fontsize=8)
        ax = figure.add_subplot(grid[-1, i])
        for c in range(len(classes)):
            ax.plot(flow.times, flow.probabilities[:, i, c], color=colors[c], label=classes[c])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(r"$t$", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"-> {classes[int(flow.probabilities[-1, i].argmax())]}", fontsize=8)
        if i:
            ax.set_yticklabels([])
    figure.axes[-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
    return figure
