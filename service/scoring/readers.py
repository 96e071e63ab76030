"""Input files read in chunks: CSV (streamed, a header row) and NPZ (an array ``x``, optional ``ids``).

Each chunk holds the rows that could be read, as a float64 batch in the model's input shape with
their ids and passthrough values, and the rows that could not, with where they are (``line N`` of a
CSV, counting the header as line 1; ``row N`` of an NPZ, from 0) and why. Blank CSV lines are
skipped. A problem with the file as a whole (missing column, wrong shape) is a :class:`UsageError`.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Protocol

import numpy as np

from models_store import Manifest


class UsageError(Exception):
    """A problem with the command or its files: one line on stderr, exit code 2."""


@dataclass(frozen=True)
class BadRow:
    """A row left out of the output, and why."""

    where: str  # "line 7" (CSV) or "row 6" (NPZ)
    reason: str


@dataclass
class Chunk:
    """Consecutive rows of the file: the readable ones (in order) and the others."""

    inputs: np.ndarray  # [n, *input shape] float64, finite
    ids: list[str]
    passthrough: list[list[str]]  # per row: the --keep values, then the --label-column value
    places: list[str]  # per row: where it is in the file ("line 7"), for solve failures
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class Columns:
    """What the caller asked to carry: an id column (None: the default id), kept columns, a label."""

    id_column: str | None = None
    keep: Sequence[str] = ()
    label: str | None = None


class Reader(Protocol):
    id_header: str
    passthrough_headers: list[str]
    total: int  # progress units in the file (CSV: bytes; NPZ: rows)

    def position(self) -> int:
        """Progress units consumed so far."""
        ...

    def chunks(self, size: int) -> Iterator[Chunk]: ...

    def close(self) -> None: ...


def open_reader(path: Path, manifest: Manifest, columns: Columns) -> Reader:
    """A reader for ``path``: NPZ when its name ends in ``.npz``, else CSV."""
    if path.suffix.lower() == ".npz":
        return NpzReader(path, manifest, columns)
    return CsvReader(path, manifest, columns)


def _input_size(manifest: Manifest) -> int:
    return math.prod(manifest.input.shape)


class CsvReader:
    """A CSV file with a header row, UTF-8 with or without a BOM, streamed ``size`` rows at a time.

    Feature columns are the manifest's ``input.feature_names`` when it has them, else every column
    that is not the id, a kept or the label column (in file order). The default id is the line number.
    """

    def __init__(self, path: Path, manifest: Manifest, columns: Columns) -> None:
        try:
            self._raw = open(path, "rb")  # noqa: SIM115 -- closed by close()
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        # surrogateescape: a row with bytes that are not UTF-8 is reported as a bad row, not fatal
        text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._rows = csv.reader(text)
        try:
            header = next(self._rows)
        except StopIteration:
            self.close()
            raise UsageError(f"{path}: the file is empty; a header row is needed") from None
        except csv.Error as exc:
            self.close()
            raise UsageError(f"{path}: line 1: {exc}") from None
        self.total = path.stat().st_size
        self._width = len(header)
        try:
            self._setup(path, header, manifest, columns)
        except UsageError:
            self.close()
            raise

    def _setup(self, path: Path, header: list[str], manifest: Manifest, columns: Columns) -> None:
        index: dict[str, int] = {}
        duplicated = set()
        for i, name in enumerate(header):
            if name in index:
                duplicated.add(name)
            index.setdefault(name, i)

        def find(names: Sequence[str], what: str) -> list[int]:
            missing = [n for n in names if n not in index]
            if missing:
                shown = ", ".join(map(repr, header[:20])) + (" ..." if len(header) > 20 else "")
                raise UsageError(
                    f"{path}: no {what} {', '.join(map(repr, missing))} (the header has {shown})"
                )
            twice = [n for n in names if n in duplicated]
            if twice:
                raise UsageError(f"{path}: {what} {', '.join(map(repr, twice))} appears more than once")
            return [index[n] for n in names]

        carried = [*columns.keep, *([columns.label] if columns.label else [])]
        self._id = None if columns.id_column is None else find([columns.id_column], "id column")[0]
        self._carry = find(carried, "column")
        if manifest.input.feature_names:
            features = list(manifest.input.feature_names)
        else:
            skip = {*carried, *([columns.id_column] if columns.id_column else [])}
            features = [n for n in header if n not in skip]
        self._features = find(features, "feature column")
        self._names = features
        size = _input_size(manifest)
        if len(features) != size:
            raise UsageError(
                f"{path}: {len(features)} feature columns ({', '.join(features[:10])}); model "
                f"{manifest.name!r} takes {size} numbers per sample (use --keep for the other columns)"
            )
        self._shape = tuple(manifest.input.shape)
        self.id_header = "line" if columns.id_column is None else columns.id_column
        self.passthrough_headers = carried

    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()

    def chunks(self, size: int) -> Iterator[Chunk]:
        while True:
            raw: list[list[str]] = []  # the chunk's non-blank rows, and the line each ends on
            lines: list[int] = []
            broken: list[tuple[int, BadRow]] = []  # rows the CSV parser refused
            more = True
            while more and len(raw) + len(broken) < size:
                more = self._read(raw, lines, broken, size - len(raw) - len(broken))
            if not raw and not broken:
                return
            yield self._chunk(raw, lines, broken)

    def _read(
        self, raw: list[list[str]], lines: list[int], broken: list[tuple[int, BadRow]], most: int
    ) -> bool:
        """Append up to ``most`` rows (blank ones left out) and their lines; False at the end of the file.

        The rows come from the parser in one C-level call (a Python loop per row was a quarter of
        a 100,000-row read); each row's line is worked out afterwards: consecutive lines when the
        rows took one line each (the usual case), else from the line breaks inside quoted fields.
        """
        rows, start, first = self._rows, self._rows.line_num, len(raw)
        try:
            raw.extend(islice(rows, most))  # on a parser error, the rows before it are kept
        except csv.Error as exc:
            broken.append((rows.line_num, BadRow(f"line {rows.line_num}", str(exc))))
            error = True
        else:
            error = False
        read = raw[first:]
        if not error and rows.line_num - start == len(read):
            lines.extend(range(start + 1, start + 1 + len(read)))
        else:
            line = start
            for row in read:
                line += 1 + sum(f.count("\n") + f.count("\r") - f.count("\r\n") for f in row)
                lines.append(line)
        if not all(read):  # blank lines: skipped
            kept = [(row, line) for row, line in zip(read, lines[first:], strict=True) if row]
            raw[first:] = [row for row, _ in kept]
            lines[first:] = [line for _, line in kept]
        return error or len(read) == most

    def _chunk(self, raw: list[list[str]], lines: list[int], broken: list[tuple[int, BadRow]]) -> Chunk:
        """The rows as a chunk: all at once when every one is well-formed (the usual case), else
        row by row, each bad row with its reason."""
        numbers = self._all_numbers(raw)
        if numbers is None:
            return self._row_by_row(raw, lines, broken)
        ids = [str(line) for line in lines] if self._id is None else [row[self._id] for row in raw]
        carried = [[row[i] for i in self._carry] for row in raw] if self._carry else [[] for _ in raw]
        chunk = Chunk(numbers, ids, carried, [f"line {line}" for line in lines])
        chunk.bad = [bad for _, bad in broken]
        return chunk

    def _all_numbers(self, raw: list[list[str]]) -> np.ndarray | None:
        """The features of every row, or None when any row is not plainly good (wrong width, not
        ASCII, not a number, not finite): the row-by-row path then says which and why."""
        if not raw or set(map(len, raw)) != {self._width}:
            return None
        if not "".join(chain.from_iterable(raw)).isascii():  # the row-by-row path checks UTF-8
            return None
        picked = map(itemgetter(*self._features), raw)
        try:  # Python's float(), as the row-by-row path: one C-level pass over the chunk's fields
            values = np.fromiter(
                map(float, chain.from_iterable(picked) if len(self._features) > 1 else picked),
                dtype=np.float64,
                count=len(raw) * len(self._features),
            ).reshape(len(raw), len(self._features))
        except ValueError:
            return None
        if not np.isfinite(values).all():
            return None
        return values.reshape(-1, *self._shape)

    def _row_by_row(self, raw: list[list[str]], lines: list[int], broken: list[tuple[int, BadRow]]) -> Chunk:
        values: list[list[float]] = []
        chunk = Chunk(np.empty(0), [], [], [])
        bad = list(broken)
        for row, line in zip(raw, lines, strict=True):
            reason = self._check(row)
            if reason is None:
                numbers, reason = self._numbers(row)
                if reason is None:
                    values.append(numbers)
                    chunk.ids.append(str(line) if self._id is None else row[self._id])
                    chunk.passthrough.append([row[i] for i in self._carry])
                    chunk.places.append(f"line {line}")
            if reason is not None:
                bad.append((line, BadRow(f"line {line}", reason)))
        chunk.bad = [row for _, row in sorted(bad, key=lambda pair: pair[0])]  # in file order
        return self._finish(chunk, values)

    def _check(self, row: list[str]) -> str | None:
        if len(row) != self._width:
            return f"{len(row)} fields; the header has {self._width}"
        text = "".join(row)
        if not text.isascii():  # one call per row: a generator over the fields costs a third of a read
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return "not valid UTF-8"
        return None

    def _numbers(self, row: list[str]) -> tuple[list[float], str | None]:
        try:
            numbers = [float(row[i]) for i in self._features]
        except ValueError:
            for name, i in zip(self._names, self._features, strict=True):
                try:
                    float(row[i])
                except ValueError:
                    text = row[i].strip()
                    return (
                        [],
                        f"column {name!r} is empty"
                        if not text
                        else f"column {name!r}: {text!r} is not a number",
                    )
            raise  # pragma: no cover -- one of them failed above
        if not all(map(math.isfinite, numbers)):
            for name, number in zip(self._names, numbers, strict=True):
                if not math.isfinite(number):
                    return [], f"column {name!r}: {number} is not a finite number"
        return numbers, None

    def _finish(self, chunk: Chunk, values: list[list[float]]) -> Chunk:
        chunk.inputs = np.asarray(values, dtype=np.float64).reshape(-1, *self._shape)
        return chunk


class NpzReader:
    """An NPZ archive: ``x`` [N, *input shape] (or [N, input size]) and optional 1-D arrays of N:
    ``ids`` (the default id; else the row index, from 0) and any named by --id-column, --keep or
    --label-column. It is read whole (arrays in an NPZ are not streamed), then scored in chunks."""

    def __init__(self, path: Path, manifest: Manifest, columns: Columns) -> None:
        try:
            archive = np.load(path, allow_pickle=False)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        except (ValueError, zipfile.BadZipFile) as exc:
            raise UsageError(f"{path}: not a readable NPZ archive ({exc})") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise UsageError(f"{path}: not an NPZ archive (an array saved with np.save?)")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
        if "x" not in arrays:
            raise UsageError(f"{path}: no array 'x' (the archive has {', '.join(arrays) or 'none'})")
        x = arrays["x"]
        shape = tuple(manifest.input.shape)
        size = _input_size(manifest)
        if x.dtype.kind not in "biuf" or x.ndim < 1 or x.shape[1:] not in (shape, (size,)):
            raise UsageError(
                f"{path}: 'x' is {x.dtype} {list(x.shape)}; model {manifest.name!r} takes numbers "
                f"[N, {', '.join(map(str, shape))}]"
            )
        self._x = x.reshape(-1, *shape)
        self.total = len(x)

        def column(name: str) -> list[str]:
            if name not in arrays:
                raise UsageError(f"{path}: no array {name!r} (the archive has {', '.join(arrays)})")
            arr = arrays[name]
            if arr.shape != (self.total,):
                raise UsageError(f"{path}: {name!r} has shape {list(arr.shape)}; expected [{self.total}]")
            return [str(v) for v in arr.tolist()]

        id_name = columns.id_column or ("ids" if "ids" in arrays else None)
        self._ids = None if id_name is None else column(id_name)
        carried = [*columns.keep, *([columns.label] if columns.label else [])]
        self._carry = [column(n) for n in carried]
        self.id_header = id_name or "index"
        self.passthrough_headers = carried
        self._done = 0

    def position(self) -> int:
        return self._done

    def close(self) -> None:
        pass

    def chunks(self, size: int) -> Iterator[Chunk]:
        for start in range(0, self.total, size):
            block = np.asarray(self._x[start : start + size], dtype=np.float64)
            finite = np.isfinite(block.reshape(len(block), -1)).all(axis=1)
            flags = [bool(v) for v in np.asarray(finite)]
            rows = range(start, start + len(block))
            keep = [i for i, ok in zip(rows, flags, strict=True) if ok]
            chunk = Chunk(
                inputs=block[finite],
                ids=[str(i) if self._ids is None else self._ids[i] for i in keep],
                passthrough=[[col[i] for col in self._carry] for i in keep],
                places=[f"row {i}" for i in keep],
                bad=[
                    BadRow(f"row {i}", "x has values that are not finite numbers (NaN or infinity)")
                    for i, ok in zip(rows, flags, strict=True)
                    if not ok
                ],
            )
            self._done = start + len(block)
            yield chunk
