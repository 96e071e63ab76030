"""Offline training of Neural ODE / Augmented Neural ODE classifiers, published to a model store.

    from training import TrainConfig, train_and_publish
    from models_store import ModelStore
    train_and_publish(TrainConfig(dataset="circles", augment_dim=1), ModelStore("store"))

The same is ``python -m training train --dataset circles --augment-dim 1 --store store``.
"""

from .config import TrainConfig
from .datasets import DATASETS, Dataset, Split, Splits, load_dataset, split_dataset, splits_from_record
from .demo import DEMO_ALIASES, DEMO_MODELS, build_demo
from .errors import DataError, DemoError, ExportError, TrainingError
from .evaluation import nfe_stats, solve_each, split_metrics
from .export import publish
from .onnx_programs import export_programs
from .pipeline import train_and_publish
from .solvers import METHODS, CountingField, KineticField, integrate
from .trainer import TrainResult, deterministic, train

__all__ = [
    "DATASETS",
    "DEMO_ALIASES",
    "DEMO_MODELS",
    "METHODS",
    "CountingField",
    "DataError",
    "Dataset",
    "DemoError",
    "ExportError",
    "KineticField",
    "Split",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "build_demo",
    "deterministic",
    "export_programs",
    "integrate",
    "load_dataset",
    "nfe_stats",
    "publish",
    "solve_each",
    "split_dataset",
    "split_metrics",
    "splits_from_record",
    "train",
    "train_and_publish",
]
