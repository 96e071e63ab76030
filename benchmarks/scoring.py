"""Bulk scoring: ``python -m service score`` against a torchdiffeq batch loop, on the same rows.

    .venv/bin/python -m benchmarks.scoring                      # 100,000 rows of moons-node
    .venv/bin/python -m benchmarks.scoring --rows 20000 --batch 1024

Writes a CSV of ``--rows`` random 2-D points (the moons range), then times, in this process and
the same run: the scoring command from file to scored CSV (loading the model, reading, solving,
writing), and what a hand-written script does: load the model, read the same CSV, then
``torchdiffeq.odeint`` in float32 (the model as trained, the model's default solver) over batches
of ``--batch`` rows, and write the labels. The two take turns, ``--repeats`` rounds; it reports the
median rows per second of each, their ratio (and each round's), and how many labels differ. Not
part of the tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from models_store import DEFAULT_STORE_ROOT
from service.engine import SolverConfig
from service.scoring import main as score_main

from .cores import TorchdiffeqCore, load_version


def write_points(path: Path, rows: int, seed: int) -> np.ndarray:
    """``rows`` points over [-1.5, 2.5] x [-1, 1.5] as a CSV with an id column; returns them."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(rows, 2))
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "x", "y"])
        writer.writerows([f"r{i}", repr(a), repr(b)] for i, (a, b) in enumerate(points.tolist()))
    return points


def torchdiffeq_loop(source: Path, target: Path, store: Path, model: str, batch: int) -> list[int]:
    """The hand-written baseline: read the CSV, solve batches with torchdiffeq float32, write labels."""
    version = load_version(store, model, None)
    d = version.manifest.default_solver
    core = TorchdiffeqCore(version, SolverConfig(d.method, d.rtol, d.atol, d.step_size, d.max_steps),
                           torch.float32)  # fmt: skip
    with source.open(newline="") as rows:
        reader = csv.reader(rows)
        next(reader)
        ids, points = zip(*((r[0], (float(r[1]), float(r[2]))) for r in reader), strict=True)
    x = np.asarray(points)
    labels: list[int] = []
    for start in range(0, len(x), batch):
        labels += core.outcome(x[start : start + batch]).probabilities.argmax(axis=1).tolist()
    with target.open("w", newline="") as out:
        csv.writer(out).writerows(zip(ids, labels, strict=True))
    return labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scoring", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--rows", type=int, default=100_000, help="rows to score (default 100000)")
    parser.add_argument("--batch", type=int, default=1024, help="torchdiffeq batch (default 1024)")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE_ROOT)
    parser.add_argument("--model", default="moons-node")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of both (default 3; medians reported)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread each: torch's pool, and numpy's BLAS below
    ours_s: list[float] = []
    theirs_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1, user_api="blas"):
        folder = Path(tmp)
        source, scored, baseline = folder / "points.csv", folder / "scored.csv", folder / "baseline.csv"
        write_points(source, args.rows, args.seed)
        for round_ in range(args.repeats):  # turns alternate: a slow spell of a shared machine hits both
            for mine in (True, False) if round_ % 2 == 0 else (False, True):
                started = time.perf_counter()
                if mine:
                    status = score_main([args.model, str(source), "--store", str(args.store), "--id-column",
                                         "id", "-o", str(scored), "--quiet"])  # fmt: skip
                    ours_s.append(time.perf_counter() - started)
                else:
                    theirs = torchdiffeq_loop(source, baseline, args.store, args.model, args.batch)
                    theirs_s.append(time.perf_counter() - started)
        with scored.open(newline="") as rows:
            ours = [row["predicted"] for row in csv.DictReader(rows)]
    classes = load_version(args.store, args.model, None).manifest.classes
    differ = sum(a != classes[b] for a, b in zip(ours, theirs, strict=True))
    ours_median, theirs_median = statistics.median(ours_s), statistics.median(theirs_s)
    report: dict[str, Any] = {
        "rows": args.rows,
        "score_status": status,
        "odeserve_score_rows_per_s": round(args.rows / ours_median),
        "torchdiffeq_loop_rows_per_s": round(args.rows / theirs_median),
        "ratio": round(theirs_median / ours_median, 2),
        "ratios_per_round": [round(t / o, 2) for o, t in zip(ours_s, theirs_s, strict=True)],
        "seconds_per_round": [[round(o, 3), round(t, 3)] for o, t in zip(ours_s, theirs_s, strict=True)],
        "labels_differ": differ,
        "torchdiffeq_batch": args.batch,
    }
    print(json.dumps(report, indent=2))
    return 0 if status == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
