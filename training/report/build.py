"""A stored version -> its report's files (PNG figures and index.html), written where asked.

The network is loaded through models_store (verified, safetensors) and its data regenerated from
the manifest's training record, so a report can be built for any version, long after training.
Which figures a report has depends on the input: 2-D inputs are the state plane itself, so they
get the decision boundary, trajectories and vector field; other inputs (images, tables) get a
confusion matrix and class probabilities over depth instead. Every report has the learning
curves (when the manifest kept a history) and the NFE histogram.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from models_store import REPORT_PAGE, Manifest, ModelStore, OdeClassifier, load_network

from ..datasets import Split, Splits, splits_from_record
from ..errors import ReportError
from ..evaluation import solve_each
from ..trainer import deterministic
from . import figures, flow, page
from .page import Section

TRAJECTORY_SAMPLES = 64
"""Test inputs whose trajectories are drawn: enough to see the flow, few enough to see each line."""
PROBABILITY_SAMPLES = 4
TIME_POINTS = 50
BOUNDARY_RESOLUTION = 120
FIELD_RESOLUTION = 40

Picture = tuple[Section, Figure]


def build_report(store: ModelStore, name: str, ref: str | int | None, out: Path | None = None) -> Path:
    """Build the report of ``name`` at ``ref`` (number or alias; None: latest); returns its folder.

    Without ``out`` it replaces the version's report in the store (beside the version, see
    models_store/reports.py); with ``out`` it writes the same files into that folder instead.
    """
    version = store.resolve(name, ref)
    manifest = store.verify(name, version)
    if manifest.training is None:
        raise ReportError(f"{name}/{version} has no training record: its data cannot be regenerated")
    network = load_network(store.version_dir(name, version), manifest)
    with deterministic(manifest.training.seed):
        files = render(manifest, network, splits_from_record(manifest.training))
    if out is None:
        return store.write_report(name, version, files)
    out.mkdir(parents=True, exist_ok=True)
    for file, data in files.items():
        (out / file).write_bytes(data)
    return out


def render(manifest: Manifest, network: OdeClassifier, splits: Splits) -> dict[str, bytes]:
    """The report's files by name: one PNG per figure, and the page that shows them in order."""
    pictures, notes = _learning_curves(manifest)
    logits, nfe = solve_each(network, torch.from_numpy(splits.test.x), manifest.default_solver)
    if list(manifest.input.shape) == [2]:
        pictures += _plane_pictures(manifest, network, splits)
    else:
        pictures += _other_pictures(manifest, network, splits.test, torch.softmax(logits, dim=1).numpy())
    pictures.append((_NFE, figures.nfe_histogram(nfe)))
    files = {section.name: figures.png_bytes(figure) for section, figure in pictures}
    files[REPORT_PAGE] = page.render(manifest, [section for section, _ in pictures], notes)
    return files


def _learning_curves(manifest: Manifest) -> tuple[list[Picture], list[str]]:
    history = manifest.training.history if manifest.training else []
    if not history:
        return [], [_NO_HISTORY]
    return [(_CURVES, figures.learning_curves(history))], []


def _plane_pictures(manifest: Manifest, network: OdeClassifier, splits: Splits) -> list[Picture]:
    solver, classes, test = manifest.default_solver, manifest.classes, splits.test
    everything = np.concatenate([splits.train.x, splits.val.x, test.x])
    grid = flow.probability_grid(network, solver, flow.bounding_box(everything), BOUNDARY_RESOLUTION)
    sample = test.x[:TRAJECTORY_SAMPLES], test.y[:TRAJECTORY_SAMPLES]
    paths = flow.trajectories(network, torch.from_numpy(sample[0]), solver, manifest.interval, TIME_POINTS)
    augmented = manifest.augment_dim > 0
    planes = _planes(network, paths, manifest.interval[0])
    return [
        (_BOUNDARY, figures.decision_boundary(grid, test.x, test.y, classes)),
        (_PATHS[augmented], figures.trajectories(paths, sample[1], classes, augmented)),
        (_FIELD[augmented], figures.vector_field(planes, paths, sample[1], classes)),
    ]


def _planes(
    network: OdeClassifier, paths: flow.Trajectories, t: float
) -> list[tuple[flow.PlaneGrid, tuple[str, str]]]:
    """(z0, z1), and for an ANODE also (z0, a0); each over the box its trajectories span."""
    pairs = [((0, 1), ("$z_0$", "$z_1$"))]
    if network.spec.augment_dim > 0:
        pairs.append(((0, 2), ("$z_0$", "$a_0$")))
    planes = []
    for axes, labels in pairs:
        box = flow.bounding_box(paths.states[..., list(axes)].reshape(-1, 2))
        planes.append((flow.field_on_plane(network, axes, box, FIELD_RESOLUTION, t), labels))
    return planes


def _other_pictures(
    manifest: Manifest, network: OdeClassifier, test: Split, probabilities: np.ndarray
) -> list[Picture]:
    """``probabilities``: the test split's at the end of the flow; the least certain inputs are drawn
    over depth (a confident one is a flat line from t = 0)."""
    unsure = np.argsort(probabilities.max(axis=1), kind="stable")[:PROBABILITY_SAMPLES]
    x, y = test.x[unsure], test.y[unsure]
    paths = flow.trajectories(
        network, torch.from_numpy(x), manifest.default_solver, manifest.interval, TIME_POINTS
    )
    return [
        (_CONFUSION, figures.confusion_matrix(test.y, probabilities.argmax(axis=1), manifest.classes)),
        (_PROBABILITIES, figures.probabilities(paths, x, y, manifest.classes)),
    ]


_NO_HISTORY = (
    "This version's manifest keeps no per-epoch history (it was trained before training recorded "
    "one), so the report has no learning curves."
)
_CURVES = Section(
    "learning_curves.png",
    "Learning curves",
    "Per epoch: mean training loss (cross-entropy plus any kinetic-energy penalty) and accuracy "
    "over the epoch's batches, validation loss and accuracy after it, and the mean number of "
    "forward function evaluations per batch at the training solver. Growing NFE means the "
    "learned dynamics are getting harder to solve.",
)
_BOUNDARY = Section(
    "decision_boundary.png",
    "Decision boundary",
    "Class probabilities over the input plane at the serving solver, the 0.5 contour in black, "
    "and the test split on top.",
)
_NODE_PATHS = Section(
    "trajectories.png",
    "Trajectories",
    "Test inputs carried through the flow from t = 0 to the end of the interval: their paths in "
    "the state plane, and one dimension over depth. A Neural ODE's trajectories cannot cross.",
)
_ANODE_PATHS = Section(
    "trajectories.png",
    "Trajectories (augmented)",
    "Test inputs carried through the flow in the augmented space (z0, z1, a0), and the augmented "
    "dimension over depth: the extra dimension lets the classes pass each other without "
    "crossing, instead of squeezing space in the plane.",
)
_NODE_FIELD = Section(
    "vector_field.png",
    "State space and learned vector field",
    "Left, the trajectories in the state plane; right, the learned field f(t, z) at t = 0 as "
    "streamlines over the contours of its norm.",
)
_ANODE_FIELD = Section(
    "vector_field.png",
    "Learned vector field (augmented)",
    "The learned field f(t, z) at t = 0 on two planes of the augmented state: (z0, z1) at a0 = 0, "
    "where every input starts, and (z0, a0) at z1 = 0; other dimensions held at 0.",
)
_PATHS = {False: _NODE_PATHS, True: _ANODE_PATHS}
_FIELD = {False: _NODE_FIELD, True: _ANODE_FIELD}
_NFE = Section(
    "nfe_histogram.png",
    "NFE over the test split",
    "Function evaluations each test sample needs when solved alone at the serving solver (what "
    "the service pays per sample, and the baseline of its NFE-drift alert).",
)
_CONFUSION = Section(
    "confusion_matrix.png",
    "Confusion matrix",
    "True class against predicted class over the test split, at the serving solver.",
)
_PROBABILITIES = Section(
    "probabilities.png",
    "Class probabilities over depth",
    "The test inputs the model is least sure of, and the class probabilities head(z(t)) along "
    "their trajectories: where in depth the model makes up its mind, or fails to.",
)
