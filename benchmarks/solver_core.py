"""Solver cores, no HTTP: torchdiffeq against each odeserve backend on one stored model.

    python -m benchmarks.solver_core

For each batch size (default 1, 64, 256, 1024, 4096; inputs uniform over [-1.5, 2.5] x [-1, 1.5],
the moons range) it times the raw ODE solve z(0) -> z(T) (encoder excluded) of

- torchdiffeq ``odeint`` in float32 (the model as trained) and in float64, one call per batch;
- odeserve's per-sample engine, ``ModelRunner.backend.solve``, for each backend (torch, onnxruntime;
  ONNX Runtime's graph also reads out the class probabilities, two kernels the others do not run;
  batches above its graph's size go to the numpy solver loop, the ``path`` column says which ran),

with the same method and tolerances (default dopri5, rtol = atol = 1e-4) and the same number of
threads on both sides (``--threads``, default 1: torch's intra-op threads and numpy's BLAS threads,
which odeserve's numpy loop uses for its matmuls). It reports the median time per solve, the speedup over
torchdiffeq float32, NFE (odeserve: mean per sample; torchdiffeq: per batch, as its one step size
serves the whole batch), how far the class probabilities are from torchdiffeq float64 at
rtol = atol = 1e-7 and how many labels differ from it, and, for odeserve, how many of 16 samples
get a different label or NFE (or probabilities more than 1e-6 apart) solved alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich import box
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from models_store import DEFAULT_STORE_ROOT
from service.engine import BackendError, ModelRunner, SolverConfig

from . import report
from .cores import Core, OdeserveCore, Outcome, TorchdiffeqCore, Version, load_version

INPUT_BOX = ((-1.5, 2.5), (-1.0, 1.5))
REFERENCE_TOL = 1e-7
BASELINE = "torchdiffeq float32"
BACKENDS = ("torch", "onnxruntime")
SPEEDUP_TARGET, DEVIATION_TARGET = 30.0, 1e-3
BIG_BATCH, BIG_SPEEDUP_TARGET = 256, 2.0  # the target for batches of 256 and more
ALONE_SAMPLES, ALONE_TOL = 16, 1e-6


@dataclass(frozen=True)
class Timing:
    median_s: float
    repeats: int


@dataclass(frozen=True)
class Row:
    core: str
    batch: int
    median_ms: float
    per_sample_us: float
    repeats: int
    speedup: float  # torchdiffeq float32's median / this median, same batch
    nfe: float
    nfe_per: str  # "sample" (mean) or "batch"
    max_prob_deviation: float
    label_mismatches: int  # samples whose label differs from the reference's
    path: str  # which solver ran: torchdiffeq, or odeserve's onnxruntime (graph), numpy or torch loop
    alone_mismatches: int | None  # of ALONE_SAMPLES solved alone, how many differ; None: not checked


def alone_mismatches(core: Core, x: np.ndarray, together: Outcome, seed: int) -> int:
    """How many of ALONE_SAMPLES samples of the batch, each solved alone, get another label or NFE,
    or probabilities more than ALONE_TOL away, than in the batch (batch invariance: 0)."""
    picked = np.random.default_rng(seed).choice(len(x), size=min(ALONE_SAMPLES, len(x)), replace=False)
    differ = 0
    for i in picked.tolist():
        alone, p = core.outcome(x[i : i + 1]), together.probabilities[i]
        same = alone.nfe[0] == together.nfe[i] and alone.probabilities[0].argmax() == p.argmax()
        differ += not (same and float(np.abs(alone.probabilities[0] - p).max()) <= ALONE_TOL)
    return differ


def sample_inputs(batch: int, seed: int) -> np.ndarray:
    """``batch`` points uniform over :data:`INPUT_BOX`, the same for a given seed."""
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = INPUT_BOX
    return np.stack([rng.uniform(x0, x1, batch), rng.uniform(y0, y1, batch)], axis=1)


def median_times(
    calls: Sequence[Callable[[], object]],
    *,
    warmup: int,
    min_repeats: int,
    min_time_s: float,
    block_s: float = 0.05,
) -> list[Timing]:
    """Median wall time of each call, over at least ``min_repeats`` calls and ``min_time_s`` seconds each.

    The calls take turns in blocks of about ``block_s`` seconds of back-to-back calls: within a block
    the caches stay as warm as in a serving loop, and a load spike from a neighbour on a shared
    machine hits every call alike instead of whichever happened to be running.
    """
    for call in calls:
        for _ in range(warmup):
            call()
    times: list[list[float]] = [[] for _ in calls]
    while any(len(spent) < min_repeats or sum(spent) < min_time_s for spent in times):
        for call, spent in zip(calls, times, strict=True):
            _block(call, spent, block_s)
    return [Timing(statistics.median(spent), len(spent)) for spent in times]


def _block(call: Callable[[], object], spent: list[float], block_s: float) -> None:
    used = 0.0
    while used < block_s:
        start = time.perf_counter()
        call()
        spent.append(time.perf_counter() - start)
        used += spent[-1]


def build_cores(version: Version, cfg: SolverConfig, backends: Sequence[str]) -> tuple[list[Core], list[str]]:
    """torchdiffeq float32 and float64, then one core per backend; and why any backend was left out."""
    cores: list[Core] = [TorchdiffeqCore(version, cfg, dtype) for dtype in (torch.float32, torch.float64)]
    skipped = []
    for backend in backends:
        try:
            runner = ModelRunner(version.network, version.manifest, version.field_onnx, backend=backend)
        except BackendError as exc:
            skipped.append(f"odeserve {backend}: {exc}")
            continue
        cores.append(OdeserveCore(runner, cfg))
    return cores, skipped


def measure_batch(cores: Sequence[Core], reference: Core, x: np.ndarray, timing: dict[str, Any]) -> list[Row]:
    """One row per core for the batch ``x``; speedups against the first core (torchdiffeq float32)."""
    want = reference.outcome(x).probabilities
    timings = median_times([core.timed(x) for core in cores], **timing)
    base = timings[0].median_s
    rows = []
    for core, took in zip(cores, timings, strict=True):
        got = core.outcome(x)
        checked = core.nfe_per == "sample" and len(x) > 1  # odeserve's: batch-invariant
        rows.append(
            Row(
                core=core.name,
                batch=len(x),
                median_ms=took.median_s * 1e3,
                per_sample_us=took.median_s * 1e6 / len(x),
                repeats=took.repeats,
                speedup=base / took.median_s,
                nfe=float(got.nfe.mean()),
                nfe_per=core.nfe_per,
                max_prob_deviation=float(np.max(np.abs(got.probabilities - want))),
                label_mismatches=int(np.sum(got.probabilities.argmax(1) != want.argmax(1))),
                path=core.path(len(x)),
                alone_mismatches=alone_mismatches(core, x, got, len(x)) if checked else None,
            )
        )
    return rows


def measure(
    version: Version,
    cfg: SolverConfig,
    batches: Sequence[int],
    backends: Sequence[str] = BACKENDS,
    *,
    seed: int = 0,
    timing: dict[str, Any] | None = None,
) -> tuple[list[Row], list[str]]:
    """Every core at every batch size; returns the rows and the backends left out (with the reason)."""
    timing = timing or {"warmup": 3, "min_repeats": 5, "min_time_s": 1.0}
    cores, skipped = build_cores(version, cfg, backends)
    reference = TorchdiffeqCore(
        version,
        SolverConfig(cfg.method, REFERENCE_TOL, REFERENCE_TOL, cfg.step_size, cfg.max_steps),
        torch.float64,
    )
    rows = [
        row
        for i, batch in enumerate(batches)
        for row in measure_batch(cores, reference, sample_inputs(batch, seed + i), timing)
    ]
    return rows, skipped


def targets(rows: Sequence[Row]) -> list[tuple[str, str, bool]]:
    """The issue's solver-core targets, (claim, measured, met): for each odeserve backend at batch 1,
    and for ONNX Runtime's (what ``auto`` serves) at batches of BIG_BATCH samples and more."""
    found = []
    for row in rows:
        if row.batch == 1 and row.core.startswith("odeserve"):
            close = row.label_mismatches == 0 and row.max_prob_deviation <= DEVIATION_TARGET
            met = row.speedup >= SPEEDUP_TARGET and close
            found.append(
                (
                    f"batch 1, {row.core}: >= {SPEEDUP_TARGET:g}x torchdiffeq float32, same label, "
                    f"|dp| <= {DEVIATION_TARGET:g}",
                    f"{row.speedup:.1f}x, |dp| {row.max_prob_deviation:.1e}, "
                    f"{row.label_mismatches} labels differ",
                    met,
                )
            )
        if row.batch >= BIG_BATCH and row.core == "odeserve onnxruntime":
            found.append(
                (
                    f"batch {row.batch}, {row.core} ({row.path}): >= {BIG_SPEEDUP_TARGET:g}x torchdiffeq "
                    f"float32, {ALONE_SAMPLES} samples alone: same label and NFE, |dp| <= {ALONE_TOL:g}",
                    f"{row.speedup:.2f}x, {row.alone_mismatches} differ alone",
                    row.speedup >= BIG_SPEEDUP_TARGET and row.alone_mismatches == 0,
                )
            )
    return found


def render(
    console: Console, rows: Sequence[Row], skipped: Sequence[str], cfg: SolverConfig, threads: int
) -> None:
    title = f"raw ODE solve, {cfg.method} rtol={cfg.rtol:g} atol={cfg.atol:g}, {threads} thread(s) each"
    table = Table(title=title, box=box.SIMPLE)  # no vertical rules: ten columns fit 120 characters
    left = ("core", "path")
    right = ("batch", "median ms", "us/sample", "speedup", "NFE", "max |dp|", "labels", "alone")
    for col in (*left, *right):
        table.add_column(col, justify="left" if col in left else "right", no_wrap=True, min_width=len(col))
    for row in rows:
        nfe = f"{row.nfe:.1f}" + ("/batch" if row.nfe_per == "batch" else "")
        table.add_row(
            row.core,
            "" if row.nfe_per == "batch" else row.path,  # torchdiffeq's rows: the core says it
            str(row.batch),
            f"{row.median_ms:.3f}",
            f"{row.per_sample_us:.1f}",
            f"{row.speedup:.2f}x",
            nfe,
            f"{row.max_prob_deviation:.1e}",
            _mismatches(row),
            "" if row.alone_mismatches is None else f"{row.alone_mismatches}/{min(ALONE_SAMPLES, row.batch)}",
        )
    console.print(table)
    console.print(
        f"|dp|, labels: against torchdiffeq float64 at rtol = atol = {REFERENCE_TOL:g} (labels: those that "
        f"differ); alone: of {ALONE_SAMPLES} samples solved alone, those with another label or NFE, or "
        f"probabilities more than {ALONE_TOL:g} away",
        highlight=False,
    )
    for note in skipped:
        console.print(f"[yellow]left out[/yellow] {note}")
    for claim, measured, met in targets(rows):
        console.print(f"{'[green]met[/green]' if met else '[red]missed[/red]'}  {claim}: {measured}")


def _mismatches(row: Row) -> str:
    text = f"{row.label_mismatches}/{row.batch}"
    return text if row.label_mismatches == 0 else f"[red]{text}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.solver_core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--store", type=Path, default=DEFAULT_STORE_ROOT, help="model store (default: the demo store)")
    add("--model", default="moons-node", help="model name (default moons-node)")
    add("--version", default=None, help="version number or alias (default latest)")
    add("--batches", type=int, nargs="+", default=[1, 64, 256, 1024, 4096], help="default 1 64 256 1024 4096")
    add("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), help="default: both")
    add("--method", default="dopri5", help="default dopri5")
    add("--tol", type=float, default=1e-4, help="rtol = atol (default 1e-4)")
    add("--min-time", type=float, default=1.0, help="seconds of timed calls per row (default 1)")
    add("--min-repeats", type=int, default=5, help="timed calls per row at least (default 5)")
    add("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    add("--seed", type=int, default=0, help="input seed (default 0)")
    add(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads and numpy's BLAS threads, for torchdiffeq and odeserve alike; "
        "default 1, as the service's torch_threads",
    )
    add("--output", type=Path, help="result file (default benchmarks/results/solver-core-<time>.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    console = report.console()
    version = load_version(args.store, args.model, args.version)
    defaults = version.manifest.default_solver
    cfg = SolverConfig(args.method, args.tol, args.tol, defaults.step_size, defaults.max_steps)
    timing = {"warmup": args.warmup, "min_repeats": args.min_repeats, "min_time_s": args.min_time}
    with threadpool_limits(args.threads, user_api="blas"):  # numpy's matmuls: the same count as torch
        rows, skipped = measure(version, cfg, args.batches, args.backends, seed=args.seed, timing=timing)
    render(console, rows, skipped, cfg, args.threads)
    payload = {
        "benchmark": "solver_core",
        "environment": report.environment(),
        "model": f"{version.manifest.name}/{version.manifest.version}",
        "solver": cfg.as_dict(),
        "reference": {"method": cfg.method, "rtol": REFERENCE_TOL, "atol": REFERENCE_TOL, "dtype": "float64"},
        "settings": {**timing, "batches": args.batches, "seed": args.seed, "threads": args.threads},
        "rows": [asdict(row) for row in rows],
        "left_out": skipped,
        "targets": [dict(zip(("claim", "measured", "met"), t, strict=True)) for t in targets(rows)],
    }
    console.print(f"results: {report.write(args.output or report.default_path('solver-core'), payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
