"""The user's own data: a CSV with a header row, or an NPZ with arrays ``x`` and ``y``.

Labels may be anything; they become strings, sorted (numerically when they all are numbers),
and their position in that order is the class index. Errors name the file, column and row,
because "could not convert string to float" alone sends the user hunting.
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import DataError

Table = tuple[np.ndarray, np.ndarray, list[str], list[str] | None]
"""x (float32), y (int64 class indices), class labels, feature names."""


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def encode_labels(raw: Iterable[str]) -> tuple[np.ndarray, list[str]]:
    """Class indices for ``raw`` labels and the sorted class list they index."""
    labels = [str(v).strip() for v in raw]
    classes = sorted(set(labels), key=_sort_key)
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[v] for v in labels], dtype=np.int64), classes


def _number(text: str, path: Path, column: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path.name}: line {line}, column {column!r}: {text!r} is not a finite number")
    return value


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte-order mark that would stick to the first name
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [row for row in csv.reader(fh) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise DataError(f"{path.name} is empty; expected a header row and data rows")
    return [name.strip() for name in rows[0]], rows[1:]


def read_csv(path: Path, label_column: str) -> Table:
    """Features are every column but ``label_column``; each must be a number."""
    header, rows = _read_rows(path)
    if label_column not in header:
        raise DataError(f"{path.name} has no label column {label_column!r} (columns: {', '.join(header)})")
    label_at = header.index(label_column)
    features = [(i, name) for i, name in enumerate(header) if i != label_at]
    if not features:
        raise DataError(f"{path.name} has no feature columns besides {label_column!r}")
    x = np.empty((len(rows), len(features)), dtype=np.float32)
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{path.name}: line {r + 2} has {len(row)} fields; the header has {len(header)}")
        x[r] = [_number(row[i], path, name, r + 2) for i, name in features]
    y, classes = encode_labels(row[label_at] for row in rows)
    return x, y, classes, [name for _, name in features]


def read_npz(path: Path) -> Table:
    """``x`` is [N, *shape] with 1 to 3 feature axes; ``y`` is [N] labels. Never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x", "y") if key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if set(arrays) != {"x", "y"}:
        raise DataError(
            f"{path.name} must hold arrays 'x' and 'y'; found {', '.join(sorted(arrays)) or 'none'}"
        )
    x, y = arrays["x"], arrays["y"]
    if not 2 <= x.ndim <= 4 or y.shape != (x.shape[0],):
        raise DataError(
            f"{path.name}: expected x [N, ...] (1 to 3 feature axes) and y [N]; got {x.shape}, {y.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise DataError(f"{path.name}: x must hold finite numbers")
    labels, classes = encode_labels(y.tolist())
    return x.astype(np.float32), labels, classes, None
