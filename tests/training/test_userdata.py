from __future__ import annotations

import codecs

import numpy as np
import pytest

from training import DataError, load_dataset
from training.userdata import encode_labels


def _csv(tmp_path, text: str):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def _rows(count: int, label=lambda i: "ab"[i % 2]) -> str:
    return "".join(f"{i * 0.5},{-i},{label(i)}\n" for i in range(count))


def test_csv_features_labels_and_sorted_classes(tmp_path):
    path = _csv(tmp_path, "width,height,label\n" + _rows(12, lambda i: ["cat", "ant", "bee"][i % 3]))
    data = load_dataset("csv", {"path": str(path), "label_column": "label"}, seed=0)
    assert data.feature_names == ["width", "height"]
    assert data.classes == ["ant", "bee", "cat"]
    assert data.x.shape == (12, 2) and data.x.dtype == np.float32
    assert data.y[:3].tolist() == [2, 0, 1]


def test_the_label_column_can_be_anywhere_and_named(tmp_path):
    path = _csv(tmp_path, "kind,a,b\n" + "".join(f"{i % 2},{i},{i}\n" for i in range(10)))
    data = load_dataset("csv", {"path": str(path), "label_column": "kind"}, seed=0)
    assert data.feature_names == ["a", "b"] and data.classes == ["0", "1"]


def test_a_spreadsheet_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path):
    path = tmp_path / "excel.csv"  # what "CSV UTF-8" in a spreadsheet writes: BOM, CRLF line ends
    body = "label,höhe,b\r\n" + "".join(f"{'xy'[i % 2]},{i},{-i}\r\n" for i in range(10))
    path.write_bytes(codecs.BOM_UTF8 + body.encode())
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    data = load_dataset("csv", {"path": str(path), "label_column": "label"}, seed=0)
    assert data.feature_names == ["höhe", "b"] and data.classes == ["x", "y"]


def test_numeric_labels_sort_as_numbers():
    _, classes = encode_labels(["10", "2", "1", "2"])
    assert classes == ["1", "2", "10"]


@pytest.mark.parametrize(
    "text, label_column, message",
    [
        ("a,b,label\n" + _rows(10) + "1,oops,a\n", "label", r"line 12, column 'b': 'oops'"),
        ("a,b,label\n" + _rows(10) + "1,nan,a\n", "label", r"column 'b'"),
        ("a,b,label\n" + _rows(10), "class", r"no label column 'class'"),
        ("a,b,label\n" + _rows(10) + "1,2\n", "label", r"line 12 has 2 fields"),
        ("", "label", r"empty"),
        ("label\n" + "a\nb\n" * 5, "label", r"no feature columns"),
        ("a,b,label\n" + _rows(10, lambda i: "same"), "label", r"one class"),
    ],
)
def test_bad_csv_files_are_data_errors_that_say_where(tmp_path, text, label_column, message):
    path = _csv(tmp_path, text)
    with pytest.raises(DataError, match=message):
        load_dataset("csv", {"path": str(path), "label_column": label_column}, seed=0)


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_dataset("csv", {"path": str(tmp_path / "nope.csv"), "label_column": "label"}, seed=0)


def test_npz_with_images(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).random((20, 1, 4, 4)), y=np.array(["b", "a"] * 10))
    data = load_dataset("npz", {"path": str(path)}, seed=0)
    assert data.input_shape == [1, 4, 4] and data.classes == ["a", "b"] and data.y[0] == 1


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((20, 2))}, "must hold arrays 'x' and 'y'"),
        ({"x": np.zeros((20, 2)), "y": np.zeros(19)}, "expected x"),
        ({"x": np.full((20, 2), np.inf), "y": np.arange(20) % 2}, "finite"),
        ({"x": np.zeros((20, 2)), "y": np.array([object()] * 20)}, "cannot read"),
    ],
)
def test_bad_npz_files_are_data_errors(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset("npz", {"path": str(path)}, seed=0)
