"""``python -m service score``: bulk scoring of a CSV or NPZ file with a stored model, no server."""

from __future__ import annotations

import csv
import gc
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models_store import DEFAULT_STORE_ROOT, REFUSED_METHODS, ModelStore
from service.engine import SolverConfig
from service.lifecycle.loading import LoadedVersion, fingerprint, load_version
from service.scoring import main

MODEL = "moons-node"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def loaded() -> LoadedVersion:
    store = ModelStore(DEFAULT_STORE_ROOT)
    state = load_version(store, MODEL, 1, fingerprint(DEFAULT_STORE_ROOT / MODEL / "1"))
    assert isinstance(state, LoadedVersion)
    return state


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2))


def write_csv(path: Path, header: list[str], rows: list[list[object]], bom: bool = False) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + text.getvalue(), encoding="utf-8")
    return path


def score(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, list[dict[str, str]], str]:
    """Exit code, the output rows, and stderr."""
    code = main(["--store", str(DEFAULT_STORE_ROOT), *map(str, argv)])
    out, err = capsys.readouterr()
    return code, list(csv.DictReader(io.StringIO(out))), err


def expected(
    loaded: LoadedVersion, x: np.ndarray, **solver: object
) -> tuple[list[str], np.ndarray, list[int]]:
    cfg = SolverConfig.resolve(loaded.manifest.default_solver, solver)
    pred = loaded.runner.predict(x, cfg)
    return [loaded.manifest.classes[i] for i in pred.labels], np.asarray(pred.probabilities), pred.nfe


def probabilities(rows: list[dict[str, str]], classes: list[str]) -> np.ndarray:
    return np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])


def test_answers_equal_predict_in_order_with_line_ids_and_passthrough(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = points(50)
    # features found by the manifest's names, whatever their place in the header
    path = write_csv(tmp_path / "in.csv", ["tag", "y", "x"], [[f"t{i}", b, a] for i, (a, b) in enumerate(x)])
    code, rows, err = score(capsys, MODEL, path, "--keep", "tag", "--chunk-size", "7", "-q")
    assert code == 0, err
    assert list(rows[0]) == ["line", "tag", "predicted", "p_0", "p_1", "nfe"]
    assert [r["line"] for r in rows] == [str(i + 2) for i in range(50)]
    assert [r["tag"] for r in rows] == [f"t{i}" for i in range(50)]
    labels, probs, nfe = expected(loaded, x)
    assert [r["predicted"] for r in rows] == labels
    np.testing.assert_allclose(probabilities(rows, loaded.manifest.classes), probs, rtol=0, atol=1e-12)
    assert [int(r["nfe"]) for r in rows] == nfe


def test_bad_rows_are_reported_with_line_and_reason_and_the_others_scored(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,x,y\n"
        "a,0.5,0.25\n"  # line 2
        "b,1,abc\n"  # 3: not a number
        "c,2\n"  # 4: too few fields
        "d,nan,1\n"  # 5: NaN
        "\n"  # 6: blank, skipped
        "e,-1,0.5\n"  # 7
        "f,,1\n"  # 8: empty
        "g,1,inf\n"  # 9: infinity
        "h,1,2,3\n"  # 10: too many fields
        "i,0.1,0.9\n",  # 11
        encoding="utf-8",
    )
    code, rows, err = score(capsys, MODEL, path, "--id-column", "id", "-q")
    assert code == 1
    assert [r["id"] for r in rows] == ["a", "e", "i"]
    labels, probs, _ = expected(loaded, np.array([[0.5, 0.25], [-1, 0.5], [0.1, 0.9]]))
    assert [r["predicted"] for r in rows] == labels
    np.testing.assert_allclose(probabilities(rows, loaded.manifest.classes), probs, rtol=0, atol=1e-12)
    lines = err.splitlines()
    assert lines == [
        f"{path}: line 3: column 'y': 'abc' is not a number",
        f"{path}: line 4: 2 fields; the header has 3",
        f"{path}: line 5: column 'x': nan is not a finite number",
        f"{path}: line 8: column 'x' is empty",
        f"{path}: line 9: column 'y': inf is not a finite number",
        f"{path}: line 10: 4 fields; the header has 3",
    ]


@pytest.mark.parametrize("chunk", ["3", "100"])
def test_a_chunk_of_good_rows_reads_numbers_as_one_with_bad_rows(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: str
) -> None:
    """A chunk whose rows are all good is parsed at once; one with a bad row, row by row. Both read
    numbers by Python's rules (spaces, underscores, exponents, signs, any Unicode digits), so the
    same row scores the same whichever chunk it lands in."""
    path = tmp_path / "spellings.csv"
    path.write_text("x,y\n 0.5 ,+0.25\n1_0e-1,-5E-1\n\u0661,.5\nx,1\n0.5,\x00\n2,0.1\n", encoding="utf-8")
    code, rows, err = score(capsys, MODEL, path, "--chunk-size", chunk, "-q")
    assert code == 1 and [r["line"] for r in rows] == ["2", "3", "4", "7"]
    labels, probs, nfe = expected(loaded, np.array([[0.5, 0.25], [1.0, -0.5], [1.0, 0.5], [2.0, 0.1]]))
    assert [r["predicted"] for r in rows] == labels and [int(r["nfe"]) for r in rows] == nfe
    np.testing.assert_allclose(probabilities(rows, loaded.manifest.classes), probs, rtol=0, atol=1e-12)
    assert [line.split(": ")[1] for line in err.splitlines()] == ["line 5", "line 6"]


@pytest.mark.parametrize("chunk", ["1", "2", "100"])
def test_line_ids_follow_quoted_line_breaks_and_blank_lines(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: str
) -> None:
    """A row's id is the line it ends on, whatever the chunk: quoted fields may span lines (LF,
    CRLF, CR), blank lines are skipped; kept values come out as they went in."""
    path = tmp_path / "multiline.csv"
    path.write_bytes(
        b"x,y,note\n"  # line 1
        b'0.5,0.25,"one, line"\n'  # 2
        b'1,0.5,"two\nlines"\n'  # 3-4
        b"\n"  # 5: blank
        b'-1,0.5,"cr\r\nlf and ""quotes"""\r\n'  # 6-7
        b'0.1,0.9,"a\rb"\n'  # 8-9 (a lone CR breaks a line too)
        b"\n\n"  # 10, 11
        b"2,0.1,last\n"  # 12
    )
    code, rows, err = score(capsys, MODEL, path, "--keep", "note", "--chunk-size", chunk, "-q")
    assert code == 0, err
    assert [r["line"] for r in rows] == ["2", "4", "7", "9", "12"]
    assert [r["note"] for r in rows] == ["one, line", "two\nlines", 'cr\r\nlf and "quotes"', "a\rb", "last"]
    x = np.array([[0.5, 0.25], [1, 0.5], [-1, 0.5], [0.1, 0.9], [2, 0.1]])
    assert [r["predicted"] for r in rows] == expected(loaded, x)[0]


@pytest.mark.parametrize("chunk", ["1", "100"])
def test_a_row_the_csv_parser_refuses_is_reported_and_the_rest_scored(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: str
) -> None:
    limit = csv.field_size_limit()
    path = tmp_path / "huge.csv"
    path.write_text(f"x,y,note\n0.5,0.25,a\n1,0.5,{'z' * (limit + 1)}\n-1,0.5,c\n", encoding="utf-8")
    code, rows, err = score(capsys, MODEL, path, "--keep", "note", "--chunk-size", chunk, "-q")
    assert code == 1
    assert [(r["line"], r["note"]) for r in rows] == [("2", "a"), ("4", "c")]
    assert err == f"{path}: line 3: field larger than field limit ({limit})\n"
    assert [r["predicted"] for r in rows] == expected(loaded, np.array([[0.5, 0.25], [-1, 0.5]]))[0]


def test_aliases_resolve_through_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "in.csv", ["x", "y"], points(3).tolist())
    for ref in ("stable", "latest", "1"):
        code, rows, err = score(capsys, MODEL, path, "--version", ref, "-q")
        assert code == 0, err
        assert len(rows) == 3
    code, rows, err = score(capsys, MODEL, path, "--version", "nightly")
    assert code == 2 and rows == []
    assert err.strip() == "python -m service score: error: model 'moons-node' has no alias 'nightly'"


def test_solver_options_change_the_nfe(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = points(20, seed=1)
    path = write_csv(tmp_path / "in.csv", ["x", "y"], x.tolist())
    _, default, _ = score(capsys, MODEL, path, "-q")
    code, tight, err = score(capsys, MODEL, path, "--rtol", "1e-8", "--atol", "1e-8", "-q")
    assert code == 0, err
    assert sum(int(r["nfe"]) for r in tight) > sum(int(r["nfe"]) for r in default)
    assert [int(r["nfe"]) for r in tight] == expected(loaded, x, rtol=1e-8, atol=1e-8)[2]
    code, fixed, err = score(capsys, MODEL, path, "--method", "rk4", "--step-size", "0.1", "-q")
    assert code == 0, err
    assert {int(r["nfe"]) for r in fixed} == {40}  # 10 steps of 4 stages
    labels, probs, _ = expected(loaded, x, method="rk4", step_size=0.1)
    assert [r["predicted"] for r in fixed] == labels
    np.testing.assert_allclose(probabilities(fixed, loaded.manifest.classes), probs, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", REFUSED_METHODS[0]], REFUSED_METHODS[0]),
        (["--method", "nope"], "unknown solver method 'nope'"),
        (["--rtol", "1e-12"], "rtol must be between"),
        (["--max-steps", "99999999"], "max_steps may be at most"),
        (
            ["--method", "rk4", "--step-size", "0.001", "--max-steps", "10"],
            "raise --step-size or --max-steps",
        ),
    ],
)
def test_refused_solver_options_are_one_line_usage_errors(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "in.csv", ["x", "y"], points(2).tolist())
    code, rows, err = score(capsys, MODEL, path, *options)
    assert code == 2 and rows == []
    assert len(err.splitlines()) == 1 and message in err, err


def test_rows_over_the_step_limit_fail_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = points(40, seed=2)
    path = write_csv(tmp_path / "in.csv", ["x", "y"], x.tolist())
    code, rows, err = score(capsys, MODEL, path, "--max-steps", "6", "-q")
    failures = [line for line in err.splitlines() if "needed more than max_steps=6" in line]
    assert code == 1 and failures and rows
    assert len(failures) + len(rows) == 40
    failed_lines = {int(line.split(": line ")[1].split(":")[0]) for line in failures}
    assert failed_lines.isdisjoint(int(r["line"]) for r in rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([MODEL, "missing.csv"], "missing.csv: no such file"),
        (["no-such-model", "in.csv"], "model 'no-such-model' not found in the store"),
        ([MODEL, "in.csv", "--keep", "nope"], "no column 'nope'"),
        ([MODEL, "in.csv", "--id-column", "nope"], "no id column 'nope'"),
    ],
)
def test_missing_files_models_and_columns_are_one_line_usage_errors(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "in.csv", ["x", "y"], points(2).tolist())
    code, rows, err = score(capsys, *argv)
    assert code == 2 and rows == []
    assert len(err.splitlines()) == 1 and message in err, err


def test_a_version_that_fails_to_verify_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    shutil.copytree(DEFAULT_STORE_ROOT / MODEL, store / MODEL)
    weights = store / MODEL / "1" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    path = write_csv(tmp_path / "in.csv", ["x", "y"], points(2).tolist())
    code = main(["--store", str(store), MODEL, str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "moons-node/1 cannot be served" in err, err


def test_npz_input_with_ids_and_bad_rows(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = points(10, seed=3)
    x[4, 1] = np.nan
    path = tmp_path / "in.npz"
    np.savez(path, x=x, ids=np.array([f"s{i}" for i in range(10)]), truth=np.arange(10) % 2)
    code, rows, err = score(capsys, MODEL, path, "--label-column", "truth", "--chunk-size", "3", "-q")
    assert code == 1
    assert err.splitlines() == [f"{path}: row 4: x has values that are not finite numbers (NaN or infinity)"]
    assert [r["ids"] for r in rows] == [f"s{i}" for i in range(10) if i != 4]
    assert [r["truth"] for r in rows] == [str(i % 2) for i in range(10) if i != 4]
    good = np.delete(x, 4, axis=0)
    labels, probs, _ = expected(loaded, good)
    assert [r["predicted"] for r in rows] == labels
    assert [r["correct"] for r in rows] == [
        str(a == b).lower() for a, b in zip(labels, (r["truth"] for r in rows), strict=True)
    ]
    np.testing.assert_allclose(probabilities(rows, loaded.manifest.classes), probs, rtol=0, atol=1e-12)


def test_csv_with_a_byte_order_mark(
    loaded: LoadedVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = points(5, seed=4)
    path = write_csv(tmp_path / "bom.csv", ["x", "y"], x.tolist(), bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfx,y")
    code, rows, err = score(capsys, MODEL, path, "-q")
    assert code == 0, err
    assert [r["predicted"] for r in rows] == expected(loaded, x)[0]


def test_scoring_leaves_the_callers_collector_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command keeps the loaded model out of the cyclic GC while it scores, then hands an
    in-process caller its collector back; a caller that froze its own heap keeps it frozen."""
    path = write_csv(tmp_path / "in.csv", ["x", "y"], points(3).tolist())
    for frozen in (False, True):
        gc.unfreeze()
        if frozen:
            gc.freeze()
        before = gc.get_freeze_count()
        assert (before > 0) == frozen
        code, _, err = score(capsys, MODEL, path, "-q")
        assert code == 0, err
        after = gc.get_freeze_count()  # frozen objects freed meanwhile leave the count
        assert after == 0 if not frozen else after > before // 2, (before, after)
    gc.unfreeze()


def test_python_m_service_score_writes_output_file(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv", ["x", "y", "id"], [[a, b, f"r{i}"] for i, (a, b) in enumerate(points(4))]
    )
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "service", "score", MODEL, str(path), "--id-column", "id", "-o", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip() == "scored 4 of 4 rows with moons-node/1 (dopri5)"
    assert [r["id"] for r in csv.DictReader(out.open(encoding="utf-8"))] == ["r0", "r1", "r2", "r3"]
    missing = subprocess.run([*cmd[:5], "nope.csv"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert missing.stderr == "python -m service score: error: nope.csv: no such file\n"
