"""Training reports: derived pictures of a version, kept beside the versions and never inside one.

A version folder is immutable and every file in it is hashed in its manifest; a report is
rebuilt from the stored weights and the manifest (``python -m training report``), so it lives in
``<root>/<name>/.reports/<version>/`` instead: old versions get reports without being changed,
and ``verify`` never trips on them. A hidden folder is neither a model name nor a version, so no
reader lists it as one (see layout.py).

Only the fixed names below are ever written or served: a server maps a requested name to a file
through :data:`REPORT_FILES`, never through a path built from the request.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from .durable import DIR_MODE, fsync_dir, make_dirs, write_file
from .errors import PublishError
from .locking import locked

REPORTS_DIR: Final = ".reports"
REPORT_PAGE: Final = "index.html"
REPORT_FIGURES: Final = (
    "learning_curves.png",
    "decision_boundary.png",
    "trajectories.png",
    "vector_field.png",
    "nfe_histogram.png",
    "confusion_matrix.png",
    "probabilities.png",
)
REPORT_FILES: Final = frozenset({REPORT_PAGE, *REPORT_FIGURES})
_TMP_PREFIX, _OLD_PREFIX = ".tmp-", ".old-"


def report_dir(model_dir: Path, version: int) -> Path:
    """Where the report of ``version`` lives (it may not exist)."""
    return model_dir / REPORTS_DIR / str(version)


def report_file(model_dir: Path, version: int, name: str) -> Path | None:
    """The report's file ``name`` when it is one of :data:`REPORT_FILES` and a regular file, else None.

    A link is refused too: only what the report writer itself put there is ever served.
    """
    if name not in REPORT_FILES:
        return None
    path = report_dir(model_dir, version) / name
    return path if path.is_file() and not path.is_symlink() else None


def write_report(model_dir: Path, version: int, files: Mapping[str, bytes]) -> Path:
    """Replace the report of ``version`` with ``files`` as a whole; returns its folder.

    The files are written into a temporary folder, then swapped in under the model's ``.lock``: a
    reader sees the old report or the new one, never a mix (between the two renames, none).
    """
    unknown = sorted(set(files) - REPORT_FILES)
    if unknown or REPORT_PAGE not in files:
        raise PublishError(f"a report is {REPORT_PAGE} and figures named in REPORT_FIGURES; got {unknown}")
    reports = model_dir / REPORTS_DIR
    with locked(model_dir):
        make_dirs(reports)
        _remove_leftovers(reports)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=reports))
        tmp.chmod(DIR_MODE)  # mkdtemp's 0700 would hide the report from a service of another user
        for name, data in files.items():
            write_file(tmp / name, data)
        fsync_dir(tmp)
        _swap(tmp, report_dir(model_dir, version))
    return report_dir(model_dir, version)


def _swap(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is renamed aside first, then removed."""
    old = None
    if os.path.lexists(target):
        old = target.with_name(f"{_OLD_PREFIX}{target.name}-{new.name.removeprefix(_TMP_PREFIX)}")
        os.rename(target, old)
    os.rename(new, target)
    fsync_dir(target.parent)
    if old is not None:
        _remove(old)


def _remove_leftovers(reports: Path) -> None:
    """What a killed writer left (it wrote only under the lock we hold, so nothing here is live)."""
    for path in reports.iterdir():
        if path.name.startswith((_TMP_PREFIX, _OLD_PREFIX)):
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
