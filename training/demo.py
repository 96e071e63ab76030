"""The shipped demo store: four models, rebuilt deterministically by ``python -m training demo``.

    moons-node      NODE, field 2-64-2 tanh, on half moons (the tutorial's set)
    circles-node    NODE, field 2-64-64-2 tanh, on concentric circles: it can only "cheat" by
                    stretching space, and pays for it in NFE (Dupont et al. 2019)
    circles-anode   ANODE, one augmented dimension, field 3-64-3 tanh: same data, fewer NFE
    digits-anode    ANODE on scikit-learn's 8x8 digits: conv encoder to 16 dims, 4 augmented

Both circles models are trained identically apart from the architecture, so their NFE compare.
Each model's training report is drawn beside it (``<store>/<model>/.reports/1/``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import TypedDict

from rich.console import Console

from models_store import Manifest, ModelStore

from .config import TrainConfig
from .datasets import DatasetName
from .errors import DemoError
from .pipeline import train_and_publish
from .report import build_report


class _SharedOptions(TypedDict):
    """The TrainConfig options both circles models share: only their architectures differ."""

    dataset: DatasetName
    samples: int
    epochs: int
    lr: float


_CIRCLES: _SharedOptions = {"dataset": "circles", "samples": 1000, "epochs": 150, "lr": 1e-2}
DEMO_MODELS: dict[str, TrainConfig] = {
    config.model_name: config
    for config in (
        TrainConfig(name="moons-node", dataset="moons", samples=1000, epochs=60, lr=1e-2),
        TrainConfig(name="circles-node", hidden=[64, 64], **_CIRCLES),
        TrainConfig(name="circles-anode", augment_dim=1, hidden=[64], **_CIRCLES),
        TrainConfig(
            name="digits-anode",
            dataset="digits",
            encoder="conv",
            conv_channels=[16, 32],
            latent_dim=16,
            augment_dim=4,
            hidden=[64],
            epochs=60,
            lr=1e-2,
            weight_decay=0.05,
        ),
    )
}
DEMO_ALIASES: dict[str, dict[str, int]] = {"moons-node": {"stable": 1}}


def _clear(store: ModelStore, names: list[str], force: bool) -> None:
    """Make room for version 1 of each demo model, or refuse before training anything."""
    present = [name for name in names if name in store.list_models()]
    if present and not force:
        raise DemoError(f"{', '.join(present)} already in {store.root}; pass --force to rebuild them")
    for name in present:
        shutil.rmtree(store.root / name)


def build_demo(
    store: ModelStore, force: bool = False, only: Iterable[str] = (), console: Console | None = None
) -> list[Manifest]:
    """Train and publish the demo models (all, or ``only`` those named) as version 1, with reports."""
    names = list(only) or list(DEMO_MODELS)
    unknown = sorted(set(names) - set(DEMO_MODELS))
    if unknown:
        raise DemoError(f"unknown demo model {', '.join(unknown)}; expected {', '.join(DEMO_MODELS)}")
    _clear(store, names, force)
    manifests = []
    for name in names:
        manifests.append(train_and_publish(DEMO_MODELS[name], store, console))
        for alias, version in DEMO_ALIASES.get(name, {}).items():
            store.set_alias(name, alias, version)
        build_report(store, name, manifests[-1].version)
    return manifests
