"""``python -m service score MODEL FILE``: load a stored version as the server does (integrity and
golden self-test), resolve the solver options with the API's bounds, score the file chunk by chunk.

Exit codes: 0 every row scored; 1 some rows failed (each reported on stderr with its line and
reason, left out of the output, the others scored); 2 a usage error (one line, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from models_store import Manifest, ModelStore, StoreError
from service.codec import decode_solver
from service.engine import (
    EngineError,
    ModelRunner,
    SampleSettings,
    SolverConfig,
    StepLimitExceeded,
    check_budget,
)
from service.errors import RequestValidationFailed
from service.lifecycle.loading import FailedVersion, LoadedVersion, fingerprint, load_version
from service.schemas import SolverRequest
from service.settings import Settings

from .readers import Chunk, Columns, Reader, UsageError, open_reader
from .writer import CsvWriter

PROG = "python -m service score"
DEFAULT_CHUNK = 4096
"""Rows read and solved at a time. The per-sample solver drops finished rows and evaluates the
field in cache-sized blocks, so a bigger chunk only spreads the loop's per-step cost wider: 100,000
rows of moons-node took 1.70 / 1.35 / 1.31 / 1.24 s at 512 / 1024 / 2048 / 4096 (medians of four)."""

_EPILOG = """\
Output (CSV, to --output or stdout): the id (default: the CSV line number, the header being line 1;
for an NPZ its 'ids' array, else the row index from 0), the --keep columns, the --label-column,
then predicted, p_<class> for every class, nfe, and correct (when a label column is given).
Rows keep the input's order. A row that cannot be read (wrong number of fields, not a number, NaN
or infinity, not UTF-8) or whose solve fails (step limit) is reported on stderr with its line and
reason and left out of the output; the other rows are scored. Exit codes: 0 all rows scored,
1 some rows failed, 2 usage error (bad option, missing file or model, a version that fails to load).

Solver options are checked against the server's limits (ODESERVE_MAX_STEPS_CAP,
ODESERVE_MIN_TOLERANCE, ...) exactly as the API checks a request's "solver" object.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score a CSV or NPZ file with a stored model, in this process (no server).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model name in the store")
    parser.add_argument("file", metavar="FILE", type=Path, help="input: CSV with a header row, or .npz")
    parser.add_argument("--version", metavar="REF", help="version number or alias (default: latest)")
    parser.add_argument("--store", type=Path, help="model store root (default: ODESERVE_STORE or the demo)")
    parser.add_argument("-o", "--output", type=Path, help="write the CSV here (default: stdout)")
    parser.add_argument("--id-column", metavar="C", help="column (NPZ: array) that identifies each row")
    parser.add_argument(
        "--keep",
        metavar="COL",
        nargs="+",
        action="extend",
        default=[],
        help="columns (NPZ: arrays) copied to the output; repeatable",
    )
    parser.add_argument(
        "--label-column", metavar="C", help="true class column: copied, and a 'correct' column added"
    )
    solver = parser.add_argument_group("solver (default: the model's; bounded like the API)")
    solver.add_argument("--method", help="e.g. dopri5, bosh3, rk4, euler")
    solver.add_argument("--rtol", type=float)
    solver.add_argument("--atol", type=float)
    solver.add_argument("--step-size", type=float, help="fixed-step methods")
    solver.add_argument("--max-steps", type=int)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK,
        metavar="N",
        help=f"rows read and solved at a time (default {DEFAULT_CHUNK})",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (argparse exits 2 itself on a malformed command)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.chunk_size <= 1_000_000:
        parser.error("--chunk-size must be between 1 and 1000000")
    if not logging.getLogger().handlers:  # the loader's warnings, without logging's own prefix
        logging.basicConfig(level=logging.ERROR, format="%(message)s")
    try:
        return score(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


def score(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"invalid ODESERVE_* setting: {exc.errors()[0]['msg']}") from None
    store = ModelStore(args.store if args.store is not None else settings.store)
    if not store.root.is_dir():
        raise UsageError(f"store {store.root} does not exist")
    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    try:
        version = store.resolve(args.model, args.version)
        manifest = store.manifest(args.model, version)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    config = solver_config(args, manifest, settings)
    columns = Columns(args.id_column, tuple(args.keep), args.label_column)
    reader = open_reader(args.file, manifest, columns)
    try:
        loaded = load_version(  # not warm: the graph variants a server builds ahead, built if used
            store,
            args.model,
            version,
            fingerprint(store.root / args.model / str(version)),
            settings.backend,
            warm=False,
        )
        if isinstance(loaded, FailedVersion):
            raise UsageError(f"{loaded.key} cannot be served: {loaded.reason}")
        with _heap_frozen(), _output(args.output) as stream:
            writer = CsvWriter(
                stream, reader.id_header, reader.passthrough_headers, manifest.classes, args.label_column
            )
            return _score_all(reader, writer, loaded, config, args)
    finally:
        reader.close()


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """The loaded libraries and model (some 200,000 long-lived objects) out of the cyclic GC while
    scoring, as the service's lifespan keeps them for its lifetime: else each full collection (the
    rows' lists set them off) walks them all, ~0.13 s of a 100,000-row file here. A caller in the
    same process (tests, benchmarks) gets its collector back; one that froze its own heap keeps it."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def solver_config(args: argparse.Namespace, manifest: Manifest, settings: Settings) -> SolverConfig:
    """The model's default solver with the options given, bounded exactly as the API bounds them."""
    given = {
        k: getattr(args, k)
        for k in ("method", "rtol", "atol", "step_size", "max_steps")
        if getattr(args, k) is not None
    }
    try:
        request = SolverRequest(**given) if given else None
        config = decode_solver(request, manifest, settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        option = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "solver option"
        raise UsageError(f"{option}: {err['msg']}") from None
    except RequestValidationFailed as exc:
        raise UsageError(str(exc)) from None
    except EngineError as exc:  # UnknownMethod, RefusedMethod: the catalogue's one-line message
        raise UsageError(str(exc)) from None
    try:
        check_budget(config, manifest.interval, 1)
    except StepLimitExceeded:
        raise UsageError(
            f"{config.method} with step size {config.step_size:g} needs more than max_steps="
            f"{config.max_steps} steps over the model's interval; raise --step-size or --max-steps"
        ) from None
    return config


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 -- closed below
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    with stream:
        yield stream


Report = Callable[[str], None]


def _score_all(
    reader: Reader, writer: CsvWriter, loaded: LoadedVersion, config: SolverConfig, args: argparse.Namespace
) -> int:
    live = not args.quiet and sys.stderr.isatty()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not live,
    )

    def report(message: str) -> None:
        if live:
            progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            print(message, file=sys.stderr)

    rows = failed = 0
    with progress:
        task = progress.add_task(f"{loaded.key} {args.file.name}", total=reader.total, rows=0)
        for chunk in reader.chunks(args.chunk_size):
            for bad in chunk.bad:
                report(f"{args.file}: {bad.where}: {bad.reason}")
            failed += len(chunk.bad) + _score_chunk(chunk, loaded.runner, config, writer, args.file, report)
            rows += len(chunk.bad) + len(chunk.ids)
            progress.update(task, completed=reader.position(), rows=rows)
    if not args.quiet:
        line = f"scored {rows - failed} of {rows} rows with {loaded.key} ({config.method})"
        if failed:
            line += f"; {failed} failed (reported above, left out of the output)"
        if args.label_column and rows > failed:
            line += f"; accuracy {writer.correct / (rows - failed):.4f}"
        report(line)
    return 1 if failed else 0


def _score_chunk(
    chunk: Chunk, runner: ModelRunner, config: SolverConfig, writer: CsvWriter, file: Path, report: Report
) -> int:
    """Solve and write the chunk's readable rows; returns how many failed to solve."""
    if not len(chunk.inputs):
        return 0
    probs, nfe, failed = solve_rows(runner, chunk.inputs, config)
    bad = np.flatnonzero(failed).tolist()
    remedy = "raise --step-size" if config.fixed_grid else "loosen --rtol/--atol"
    for i in bad:
        report(
            f"{file}: {chunk.places[i]}: the solver needed more than max_steps={config.max_steps} steps; "
            f"{remedy} or raise --max-steps"
        )
    ids, passthrough = chunk.ids, chunk.passthrough
    if bad:
        keep = np.flatnonzero(~failed).tolist()
        ids, passthrough = [ids[i] for i in keep], [passthrough[i] for i in keep]
        probs, nfe = probs[~failed], nfe[~failed]
    writer.write(ids, passthrough, probs.argmax(axis=1).tolist(), probs, nfe.tolist())
    return len(bad)


def solve_rows(
    runner: ModelRunner, inputs: np.ndarray, config: SolverConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities [B, C], NFE [B] and failed [B] for a batch, solved as predict solves it, except
    that a row over the step limit is flagged instead of failing the batch. Methods run by
    torchdiffeq fail the whole batch: it is split in halves until the failing rows are alone."""
    try:
        sol, probs = runner.solve_batch(inputs, config.method, SampleSettings.uniform(config, len(inputs)))
    except StepLimitExceeded:
        if len(inputs) == 1:
            width = len(runner.manifest.classes)
            return np.full((1, width), np.nan), np.zeros(1, dtype=np.int64), np.ones(1, dtype=bool)
        half = len(inputs) // 2
        first, second = solve_rows(runner, inputs[:half], config), solve_rows(runner, inputs[half:], config)
        return (
            np.concatenate([first[0], second[0]]),
            np.concatenate([first[1], second[1]]),
            np.concatenate([first[2], second[2]]),
        )
    return np.asarray(probs), np.asarray(sol.nfe), np.asarray(sol.failed, dtype=bool)
