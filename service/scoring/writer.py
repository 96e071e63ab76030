"""The scored rows as CSV: the id, the passthrough columns, the predicted class, ``p_<class>`` per
class, the NFE, and ``correct`` when a label column was given.

Values are quoted as RFC 4180 says: one with a comma, a double quote or a line break is enclosed in
double quotes, its quotes doubled. Python's csv module would leave a lone CR unquoted when lines end
in LF, so that the file no longer reads back; and joining the lines at once is a third faster.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from .readers import UsageError

_SPECIAL = re.compile('[,"\r\n]')
"""What a value must not hold unquoted."""


def field(value: str) -> str:
    """``value`` as one CSV field."""
    return '"' + value.replace('"', '""') + '"' if _SPECIAL.search(value) else value


def _fields(column: Sequence[str]) -> Sequence[str]:
    """A column of values as CSV fields: as they are unless one needs quoting (one search per column)."""
    return [field(v) for v in column] if _SPECIAL.search("".join(column)) else column


class CsvWriter:
    def __init__(
        self,
        stream: TextIO,
        id_header: str,
        passthrough: Sequence[str],
        classes: Sequence[str],
        label: str | None,
    ) -> None:
        header = [
            id_header,
            *passthrough,
            "predicted",
            *(f"p_{c}" for c in classes),
            "nfe",
            *(["correct"] if label else []),
        ]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise UsageError(
                f"output column(s) {', '.join(map(repr, twice))} would appear twice: "
                "rename them in the input or carry fewer columns"
            )
        self._classes = list(classes)
        self._label = label is not None
        self._stream = stream
        stream.write(",".join(_fields(header)) + "\n")
        self.correct = 0

    def write(
        self,
        ids: Sequence[str],
        passthrough: Sequence[Sequence[str]],
        labels: Sequence[int],
        probabilities: np.ndarray,
        nfe: Sequence[int],
    ) -> None:
        """One line per row, in the order given; probabilities in full precision (shortest repr)."""
        predicted = [self._classes[i] for i in labels]
        columns = [_fields(column) for column in (ids, *zip(*passthrough, strict=True), predicted)]
        columns += [[repr(p) for p in column] for column in probabilities.T.tolist()]
        columns.append([str(n) for n in nfe])
        if self._label:
            correct = [p[-1].strip() == c for p, c in zip(passthrough, predicted, strict=True)]
            self.correct += sum(correct)
            columns.append(["true" if ok else "false" for ok in correct])
        self._stream.write("".join(f"{line}\n" for line in map(",".join, zip(*columns, strict=True))))
