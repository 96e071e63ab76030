from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from training import TrainConfig

REPO = Path(__file__).resolve().parents[2]


def run_training(*args: object) -> subprocess.CompletedProcess:
    """``python -m training ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "training", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These networks are tiny: a second thread only adds synchronisation, badly so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A few seconds of training: enough to exercise every step, not to learn much."""
    return TrainConfig(name="tiny-node", dataset="moons", samples=200, epochs=2, batch_size=32)


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    return run_training
