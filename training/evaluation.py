"""Measuring a network: logits, accuracy and loss of a split, per-sample NFE.

torchdiffeq picks one step size for a whole batch, so a batch's NFE says little about any one
sample. Per-sample NFE (what a per-sample serving engine pays) needs each sample solved alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from models_store import NfeStats, OdeClassifier, SolverDefaults, SplitMetrics

from .datasets import Split
from .solvers import CountingField, integrate


@torch.no_grad()
def predict_logits(network: OdeClassifier, x: torch.Tensor, solver: SolverDefaults) -> torch.Tensor:
    """Logits of a batch solved together (one step size for the batch)."""
    logits: torch.Tensor = network.head(integrate(network.field, network.initial_state(x), solver))
    return logits


def split_metrics(network: OdeClassifier, split: Split, solver: SolverDefaults) -> SplitMetrics:
    """Accuracy and mean cross-entropy of a whole split, solved as one batch."""
    logits = predict_logits(network, torch.from_numpy(split.x), solver)
    labels = torch.from_numpy(split.y)
    accuracy = (logits.argmax(dim=1) == labels).double().mean().item()
    return SplitMetrics(accuracy=accuracy, loss=F.cross_entropy(logits, labels).item())


@torch.no_grad()
def solve_each(
    network: OdeClassifier, x: torch.Tensor, solver: SolverDefaults
) -> tuple[torch.Tensor, list[int]]:
    """Logits and NFE of every sample, each solved alone so its NFE is its own."""
    counter = CountingField(network.field)
    logits, nfe = [], []
    for sample in x.split(1):  # type: ignore[no-untyped-call]  # torch leaves Tensor.split unannotated
        counter.calls = 0
        logits.append(network.head(integrate(counter, network.initial_state(sample), solver)))
        nfe.append(counter.calls)
    return torch.cat(logits), nfe


def nfe_stats(nfe: list[int]) -> NfeStats:
    values = np.asarray(nfe, dtype=np.float64)
    return NfeStats(
        mean=float(values.mean()), p50=float(np.percentile(values, 50)), p95=float(np.percentile(values, 95))
    )
