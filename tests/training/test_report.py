"""Training reports: the history training logged reaches the manifest; the command draws every
figure at its size, a page that links only to them, and the same bytes as the shipped demo reports."""

from __future__ import annotations

import logging
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from models_store import (
    DEFAULT_STORE_ROOT,
    REPORT_FILES,
    REPORT_PAGE,
    ModelStore,
    verify_folder,
)
from training import TrainConfig, train_and_publish
from training.cli import main
from training.report import DPI, SIZES, build_report
from training.trainer import EPOCH_LOG

DEMO = ModelStore(DEFAULT_STORE_ROOT)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLANE = {
    "learning_curves.png",
    "decision_boundary.png",
    "trajectories.png",
    "vector_field.png",
    "nfe_histogram.png",
}
OTHER = {"learning_curves.png", "confusion_matrix.png", "probabilities.png", "nfe_histogram.png"}
EXPECTED = {
    "moons-node": PLANE,
    "circles-node": PLANE,
    "circles-anode": PLANE,
    "digits-anode": OTHER,
}


class _Logged(logging.Handler):
    """Keeps the trainer's per-epoch records (their arguments are the exact numbers)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == EPOCH_LOG:
            self.records.append(record)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[logging.LogRecord]]:
    """A tiny NODE trained and published with the trainer's logging captured."""
    store = tmp_path_factory.mktemp("report") / "store"
    logger, handler = logging.getLogger("training.trainer"), _Logged()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        config = TrainConfig(name="tiny-node", dataset="moons", samples=200, epochs=3, batch_size=32)
        train_and_publish(config, ModelStore(store))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return store, handler.records


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory) -> dict[str, Path]:
    """Each shipped demo model's report, drawn afresh into a temporary folder."""
    out = tmp_path_factory.mktemp("demo-reports")
    return {name: build_report(DEMO, name, "1", out / name) for name in EXPECTED}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first one, right after the signature)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [value or "" for name, value in attrs if name in {"src", "href", "srcset", "action"}]


def page_links(folder: Path) -> _Links:
    parser = _Links()
    parser.feed((folder / REPORT_PAGE).read_text())
    return parser


def test_the_manifest_keeps_the_history_training_logged(trained):
    store, records = trained
    history = ModelStore(store).manifest("tiny-node", 1).training.history
    assert [r.args[0] for r in records] == [h.epoch for h in history] == [1, 2, 3]
    for record, epoch in zip(records, history, strict=True):
        assert record.args == (
            epoch.epoch,
            epoch.loss,
            epoch.accuracy,
            epoch.nfe,
            epoch.val.accuracy,
            epoch.val.loss,
        )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_figure_is_a_png_of_its_size_and_the_page_links_only_to_them(demo_reports, name):
    folder = demo_reports[name]
    assert {p.name for p in folder.iterdir()} == EXPECTED[name] | {REPORT_PAGE}
    for figure in EXPECTED[name]:
        width, height = SIZES[figure]
        assert png_size((folder / figure).read_bytes()) == (round(width * DPI), round(height * DPI))
    parsed = page_links(folder)
    assert sorted(parsed.links) == sorted(EXPECTED[name])  # relative names of files that exist
    assert not parsed.tags & {"script", "link", "iframe", "object", "embed", "form"}
    assert "http" not in (folder / REPORT_PAGE).read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_shipped_demo_reports_are_what_the_command_draws(demo_reports, name):
    """``make demo-store`` was run, and drawing is deterministic: the same numbers, the same bytes."""
    shipped = DEMO.root / name / ".reports" / "1"
    fresh = demo_reports[name]
    assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in fresh.iterdir())
    for path in fresh.iterdir():
        assert (shipped / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_report_lives_beside_the_version_which_still_verifies(trained, capsys, tmp_path):
    store = shutil.copytree(trained[0], tmp_path / "store")
    status, out, _ = _main(capsys, "report", "tiny-node", "latest", "--store", store)
    folder = store / "tiny-node" / ".reports" / "1"
    assert status == 0 and str(folder) in out
    assert {p.name for p in folder.iterdir()} == PLANE | {REPORT_PAGE}
    verify_folder(store / "tiny-node" / "1")  # the version folder is untouched
    assert ModelStore(store).versions("tiny-node") == [1]


def test_a_rebuilt_report_replaces_the_old_one_whole(trained, tmp_path):
    store = ModelStore(shutil.copytree(trained[0], tmp_path / "store"))
    folder = store.write_report("tiny-node", 1, {REPORT_PAGE: b"old", "probabilities.png": b"stale"})
    build_report(store, "tiny-node", 1)
    assert {p.name for p in folder.iterdir()} == PLANE | {REPORT_PAGE}
    assert [p.name for p in folder.parent.iterdir()] == ["1"]  # no temporary or old folder left


def test_out_writes_the_report_there_and_the_store_is_left_alone(trained, capsys, tmp_path):
    status, out, _ = _main(capsys, "report", "tiny-node", "1", "--store", trained[0], "--out", tmp_path / "r")
    assert status == 0 and str(tmp_path / "r") in out
    assert {p.name for p in (tmp_path / "r").iterdir()} == PLANE | {REPORT_PAGE}
    assert not (trained[0] / "tiny-node" / ".reports").exists()


def test_an_alias_names_the_version(capsys, tmp_path):
    status, _, _ = _main(capsys, "report", "moons-node", "stable", "--out", tmp_path)
    assert status == 0 and "moons-node version 1" in (tmp_path / REPORT_PAGE).read_text()


@pytest.mark.parametrize(
    "name, version, says",
    [
        ("nope", "1", "model 'nope' not found"),
        ("tiny-node", "9", "model 'tiny-node' has no version 9"),
        ("tiny-node", "stable", "model 'tiny-node' has no alias 'stable'"),
        ("Bad/Name", "1", "invalid model name 'Bad/Name'"),
    ],
)
def test_an_unknown_model_or_version_fails_with_one_line(trained, capsys, tmp_path, name, version, says):
    status, _, err = _main(capsys, "report", name, version, "--store", trained[0], "--out", tmp_path / "r")
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1 and says in lines[0] and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_a_version_without_history_gets_a_report_that_says_so(trained, tmp_path):
    store = ModelStore(shutil.copytree(trained[0], tmp_path / "store"))
    old = store.manifest("tiny-node", 1)
    folder = store.version_dir("tiny-node", 1)
    files = {name: (folder / name).read_bytes() for name in old.files}
    training = old.training.model_copy(update={"history": []})
    store.publish(
        "tiny-node",
        files,
        lambda v, d: old.model_copy(update={"version": v, "files": d, "training": training}),
    )
    built = build_report(store, "tiny-node", 2, tmp_path / "r")
    assert {p.name for p in built.iterdir()} == (PLANE - {"learning_curves.png"}) | {REPORT_PAGE}
    assert "no per-epoch history" in (built / REPORT_PAGE).read_text()


def test_only_the_fixed_names_are_written():
    assert {REPORT_PAGE, *SIZES} == REPORT_FILES


def _main(capsys, *args) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err
