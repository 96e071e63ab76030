"""The scored rows as CSV: the id, the passthrough columns, the predicted class, ``p_<class>`` per
class, the NFE, and ``correct`` when a label column was given."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from .readers import UsageError


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
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(header)
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
        classes = self._classes
        predicted = [classes[i] for i in labels]
        probs = probabilities.tolist()
        if not self._label:
            self._csv.writerows(
                [i, *p, c, *q, n]
                for i, p, c, q, n in zip(ids, passthrough, predicted, probs, nfe, strict=True)
            )
            return
        correct = [p[-1].strip() == c for p, c in zip(passthrough, predicted, strict=True)]
        self.correct += sum(correct)
        self._csv.writerows(
            [i, *p, c, *q, n, "true" if ok else "false"]
            for i, p, c, q, n, ok in zip(ids, passthrough, predicted, probs, nfe, correct, strict=True)
        )
