"""The training loop: plain torch, one function a reader sees whole.

The ODE is solved on [0, 1] from z(0) = initial_state(x); logits = head(z(1)). The network
with the best validation accuracy (then loss) over the epochs is the one returned. Each epoch is
logged (logger ``training.trainer``, INFO) with the very numbers the manifest's history keeps.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.nn import functional as F

from models_store import ArchitectureSpec, OdeClassifier, SplitMetrics, build_network

from .config import TrainConfig
from .datasets import Split, Splits
from .evaluation import split_metrics
from .solvers import CountingField, KineticField, integrate

log = logging.getLogger(__name__)
EPOCH_LOG = "epoch %d: loss %.6g, accuracy %.4f, NFE %.1f, val accuracy %.4f, val loss %.6g"
"""One line per epoch; its arguments are EpochStats' numbers in field order (val flattened)."""


@dataclass(frozen=True)
class EpochStats:
    """Means over an epoch's batches (NFE: forward evaluations per batch), then validation."""

    epoch: int
    loss: float
    accuracy: float
    nfe: float
    val: SplitMetrics


@dataclass(frozen=True)
class TrainResult:
    network: OdeClassifier
    history: list[EpochStats]
    best_epoch: int
    duration_s: float


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seeded, deterministic kernels, one thread; restores the previous settings afterwards.

    One thread also fixes the order of CPU reductions, so the weights come out byte-identical
    on machines with different core counts; the networks here are too small to gain from more.
    """
    previous = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.set_num_threads(previous[1])


def _batches(
    split: Split, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    x, y = torch.from_numpy(split.x), torch.from_numpy(split.y)
    order = torch.randperm(len(split), generator=generator)
    for start in range(0, len(split), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


class _Objective:
    """Loss of a batch: cross-entropy plus the weighted kinetic energy, with the batch's NFE."""

    def __init__(self, network: OdeClassifier, config: TrainConfig) -> None:
        self.network, self.config = network, config
        self.counter = CountingField(network.field)
        self.kinetic = KineticField(self.counter)
        self.solver = config.training_solver()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        self.counter.calls = 0
        z0, adjoint = self.network.initial_state(x), self.config.adjoint
        if self.config.kinetic_energy > 0:
            state = integrate(self.kinetic, F.pad(z0, (0, 1)), self.solver, adjoint=adjoint)
            z1, energy = state[:, :-1], state[:, -1].mean()
        else:
            z1 = integrate(self.counter, z0, self.solver, adjoint=adjoint)
            energy = z0.new_zeros(())
        logits = self.network.head(z1)
        loss = F.cross_entropy(logits, y) + self.config.kinetic_energy * energy
        return loss, logits, self.counter.calls


def _progress(console: Console | None) -> Progress:
    fields = "loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.3f}"
    stats = fields + "  val {task.fields[val]:.3f}  nfe {task.fields[nfe]:.1f}"
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(stats),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, disable=console is None)


def _schedule(optimiser: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    return torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0)


class _BestCheckpoint:
    """The weights of the epoch with the best validation accuracy; ties go to the lower loss."""

    def __init__(self) -> None:
        self.score: tuple[float, float] | None = None
        self.epoch = 0
        self.state: dict[str, torch.Tensor] = {}

    def offer(self, epoch: int, val: SplitMetrics, network: OdeClassifier) -> None:
        score = (val.accuracy, -val.loss)
        if self.score is None or score > self.score:
            self.score, self.epoch, self.state = score, epoch, copy.deepcopy(network.state_dict())


def _epoch(
    objective: _Objective,
    optimiser: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[float, float, float]:
    """One pass; returns mean loss, accuracy and forward NFE per batch."""
    total_loss = 0.0
    correct = seen = nfe = steps = 0
    for x, y in batches:
        loss, logits, calls = objective(x, y)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        optimiser.step()
        total_loss += loss.item() * len(y)
        correct += int((logits.argmax(dim=1) == y).sum().item())
        seen, nfe, steps = seen + len(y), nfe + calls, steps + 1
    return total_loss / seen, correct / seen, nfe / steps


def train(
    config: TrainConfig, splits: Splits, spec: ArchitectureSpec, console: Console | None = None
) -> TrainResult:
    """Train a fresh network for ``spec`` on ``splits.train``; deterministic under ``config.seed``."""
    started = time.perf_counter()
    with deterministic(config.seed), _progress(console) as progress:
        network = build_network(spec)
        objective = _Objective(network, config)
        optimiser = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        schedule = _schedule(optimiser, config)
        generator = torch.Generator().manual_seed(config.seed)
        task = progress.add_task(config.model_name, total=config.epochs, loss=0.0, acc=0.0, val=0.0, nfe=0.0)
        history: list[EpochStats] = []
        best = _BestCheckpoint()
        for epoch in range(1, config.epochs + 1):
            batches = _batches(splits.train, config.batch_size, generator)
            loss, accuracy, nfe = _epoch(objective, optimiser, batches)
            schedule.step()
            val = split_metrics(network, splits.val, objective.solver)
            history.append(EpochStats(epoch, loss, accuracy, nfe, val))
            log.info(EPOCH_LOG, epoch, loss, accuracy, nfe, val.accuracy, val.loss)
            best.offer(epoch, val, network)
            progress.update(task, advance=1, loss=loss, acc=accuracy, val=val.accuracy, nfe=nfe)
        network.load_state_dict(best.state)
    return TrainResult(network.eval(), history, best.epoch, time.perf_counter() - started)
