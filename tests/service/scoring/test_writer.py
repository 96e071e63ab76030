"""The scored CSV reads back as written, whatever the ids, kept values and column names hold."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from service.scoring.writer import CsvWriter

AWKWARD = ["a,b", 'say "hi"', "two\nlines", "lone\rcr", "crlf\r\n", ""]


def _written(ids: list[str], kept: list[str], header: str = "note") -> str:
    out = io.StringIO()
    writer = CsvWriter(out, "id", [header], ["neg", "pos"], None)
    probs = np.array([[0.25, 0.75], [1 / 3, 2 / 3]] * (len(ids) // 2) + [[0.5, 0.5]] * (len(ids) % 2))
    writer.write(ids, [[k] for k in kept], probs.argmax(axis=1).tolist(), probs, list(range(len(ids))))
    return out.getvalue()


@pytest.mark.parametrize("value", AWKWARD, ids=["comma", "quotes", "lf", "cr", "crlf", "empty"])
def test_values_that_need_quotes_read_back_as_written(value: str) -> None:
    text = _written(["plain", value], [value, "plain"], header=f"note {value}")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["id", f"note {value}", "predicted", "p_neg", "p_pos", "nfe"]
    assert [r[:2] for r in rows[1:]] == [["plain", value], [value, "plain"]]
    assert [float(r[3]) + float(r[4]) for r in rows[1:]] == [1.0, 1.0]


def test_plain_values_are_not_quoted_and_probabilities_keep_every_digit() -> None:
    text = _written(["r1", "r2"], ["x", "y"])
    assert text.splitlines() == [
        "id,note,predicted,p_neg,p_pos,nfe",
        "r1,x,pos,0.25,0.75,0",
        f"r2,y,pos,{1 / 3!r},{2 / 3!r},1",
    ]
