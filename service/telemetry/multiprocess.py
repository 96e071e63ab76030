"""prometheus-client's multiprocess mode: one metrics folder shared by every uvicorn worker.

prometheus-client decides per process, when it is first imported, whether values live in memory
or in mmap files under ``PROMETHEUS_MULTIPROC_DIR``. The launcher therefore calls
:func:`prepare_multiprocess_dir` before it starts the workers; each worker inherits the variable.
Counters and histograms of a worker that died stay in the folder (totals never go backwards);
the ``live*`` gauges of a dead worker are deleted (:func:`mark_worker_dead`).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

from prometheus_client import values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")
_HEADER_BYTES = 8  # an mmap file's used-length word and its padding


def prepare_multiprocess_dir(path: Path | None, workers: int) -> Path | None:
    """Set up multiprocess metrics before the launcher starts its workers; returns the folder.

    The folder is ``path``, else ``$PROMETHEUS_MULTIPROC_DIR``, else (``workers > 1``) a fresh
    temporary folder removed at exit. One worker without either runs single-process (``None``).
    Stale ``*.db`` files of a previous run are deleted; the variable is set for the workers.
    """
    if path is None:
        path = _default_multiprocess_dir(workers)
    elif workers == 1 and values.ValueClass is values.MutexValue:
        raise ValueError(f"a metrics folder with one worker needs {MULTIPROC_ENV} set before the start")
    if path is None:
        return None
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def _default_multiprocess_dir(workers: int) -> Path | None:
    if os.environ.get(MULTIPROC_ENV):
        return Path(os.environ[MULTIPROC_ENV])
    if workers == 1:
        return None
    path = Path(tempfile.mkdtemp(prefix="odeserve-metrics-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def mark_worker_dead(pid: int, path: Path | None = None) -> None:
    """Drop the live gauges (in-flight, loaded versions, baselines) of a worker that has exited."""
    # prometheus-client leaves this function unannotated
    mark_process_dead(pid, str(path) if path is not None else None)  # type: ignore[no-untyped-call]


def multiproc_dir_of_this_process() -> Path | None:
    """The multiprocess folder, checked to be set before prometheus-client chose its value class."""
    configured = os.environ.get(MULTIPROC_ENV)
    if not configured:
        return None
    if values.ValueClass is values.MutexValue:
        raise RuntimeError(f"{MULTIPROC_ENV} was set after prometheus_client was imported in this process")
    return Path(configured)


def written_metric_files(path: Path) -> list[Path]:
    """The folder's metric files that a worker has finished creating.

    A worker creates its file empty and only then sizes it (prometheus-client's ``MmapedDict``);
    reading it in between fails (``struct.error``), so a scrape at the instant a worker starts or
    first touches a metric would answer 500. Such a file holds no sample yet: leaving it out is exact.
    """
    found = []
    for file in sorted(path.glob("*.db")):
        try:
            if file.stat().st_size >= _HEADER_BYTES:
                found.append(file)
        except FileNotFoundError:  # a dead worker's live gauge, removed this instant
            pass
    return found


class WorkerFilesCollector:
    """Every worker's samples, merged as prometheus-client's ``MultiProcessCollector`` merges them,
    over :func:`written_metric_files` only."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def collect(self) -> list[Metric]:
        files = [str(file) for file in written_metric_files(self._path)]
        # prometheus-client leaves merge unannotated
        return list(MultiProcessCollector.merge(files, accumulate=True))  # type: ignore[no-untyped-call]


def drop_dead_workers(path: Path) -> None:
    for file in path.iterdir():
        match = _LIVE_GAUGE_FILE.fullmatch(file.name)
        if match and not process_alive(int(match.group(1))):
            mark_worker_dead(int(match.group(1)), path)


def process_alive(pid: int) -> bool:
    """True while the process runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc here (not Linux), or it exited this instant: the next look decides
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
