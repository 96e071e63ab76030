"""The points a version was trained and tested on, regenerated from its manifest's training record.

The toy datasets and the split are pure functions of the record's (dataset, params, seed)
(:mod:`models_store.toy_data`, which training draws from too), so the regenerated points are
the very ones the model saw. Other data cannot be regenerated here, and the answer says why.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, TypeGuard

import anyio
import numpy as np
from starlette.types import Scope

from models_store import TOY_GENERATORS, TrainingRecord, split_rows, toy_points
from service.deps import Runtime
from service.errors import InvalidRequest
from service.inference import resolve
from service.lifecycle.loading import LoadedVersion
from service.schemas import DatasetResponse

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
MAX_POINTS = 5000
"""The most points one answer carries (the ``limit`` query's bound)."""
MAX_SAMPLES = 1_000_000
"""The largest toy dataset regenerated: as large as training makes them."""
_NOT_TOY = {
    "digits": "its samples are 8x8 images, not points of the plane",
    "csv": "it is the user's own file, which the server does not read",
    "npz": "it is the user's own file, which the server does not read",
}


async def dataset_answer(
    rt: Runtime, scope: Scope, name: str, ref: str | None, split: Split, limit: int
) -> DatasetResponse:
    """The first ``limit`` points of ``split`` (already in the split's seeded random order)."""
    loaded = resolve(rt, scope, name, ref)
    record = _toy_record(loaded)
    samples, noise = _recipe(loaded, record)
    x, y, total = await anyio.to_thread.run_sync(
        _split_head, record.dataset, samples, noise, record.seed, SPLITS.index(split)
    )
    return DatasetResponse.model_construct(
        model=loaded.name,
        version=loaded.version,
        dataset=record.dataset,
        split=split,
        total=total,
        classes=list(loaded.manifest.classes),
        features=x[:limit].tolist(),
        labels=y[:limit].tolist(),
    )


@functools.lru_cache(maxsize=64)
def _split_head(
    dataset: str, samples: int, noise: float, seed: int, part: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The first :data:`MAX_POINTS` points of split number ``part`` and the split's size. A pure
    function of the recipe, so remembering it is a per-version cache that no reload makes stale."""
    x, y = toy_points(dataset, samples, noise, seed)
    rows = split_rows(samples, seed)[part]
    return x[rows[:MAX_POINTS]], y[rows[:MAX_POINTS]], len(rows)


def _toy_record(loaded: LoadedVersion) -> TrainingRecord:
    record = loaded.manifest.training
    if record is None:
        raise _cannot(loaded, "its manifest has no training record")
    if record.dataset not in TOY_GENERATORS:
        why = _NOT_TOY.get(record.dataset, "only the toy datasets can be regenerated")
        raise _cannot(loaded, f"it was trained on dataset {record.dataset!r}: {why}")
    return record


def _recipe(loaded: LoadedVersion, record: TrainingRecord) -> tuple[int, float]:
    """The toy dataset's size and noise, as training recorded them."""
    samples, noise = record.dataset_params.get("samples"), record.dataset_params.get("noise")
    if _whole(samples) and _real(noise) and 10 <= samples <= MAX_SAMPLES and 0 <= noise < math.inf:
        return samples, float(noise)
    raise _cannot(
        loaded,
        f"its training record gives samples={samples!r} and noise={noise!r}; regenerating needs "
        f"10 to {MAX_SAMPLES} samples and a finite noise >= 0",
    )


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cannot(loaded: LoadedVersion, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"the data of {loaded.key} cannot be regenerated: {why}", {"dataset": _dataset_of(loaded)}
    )


def _dataset_of(loaded: LoadedVersion) -> str | None:
    return loaded.manifest.training.dataset if loaded.manifest.training else None
