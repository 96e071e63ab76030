"""A version's report lives beside it: written whole, only under fixed names, never listed as a version."""

from __future__ import annotations

import os
import stat

import pytest
from store_fakes import publish_fake

from models_store import REPORT_PAGE, PublishError, VersionNotFound

PAGE = {REPORT_PAGE: b"<!DOCTYPE html>"}


def test_a_report_is_neither_a_version_nor_part_of_one(published):
    folder = published.write_report("fake-node", "latest", {**PAGE, "nfe_histogram.png": b"png"})
    assert folder == published.root / "fake-node" / ".reports" / "1"
    assert published.versions("fake-node") == [1] and published.list_models() == ["fake-node"]
    assert published.verify("fake-node", 1).version == 1 and published.leftovers("fake-node") == []
    assert published.report_file("fake-node", 1, "nfe_histogram.png") == folder / "nfe_histogram.png"


@pytest.mark.parametrize("name", ["manifest.json", "../1/manifest.json", ".", "", "NFE_HISTOGRAM.PNG"])
def test_only_the_fixed_names_are_found(published, name):
    published.write_report("fake-node", 1, PAGE)
    (published.root / "fake-node" / ".reports" / "1" / "manifest.json").write_text("{}")
    assert published.report_file("fake-node", 1, name) is None


def test_a_link_in_place_of_a_figure_is_not_found(published):
    folder = published.write_report("fake-node", 1, PAGE)
    (folder / "trajectories.png").symlink_to(published.version_dir("fake-node", 1) / "manifest.json")
    assert published.report_file("fake-node", 1, "trajectories.png") is None


@pytest.mark.parametrize("files", [{"notes.txt": b"x", **PAGE}, {"trajectories.png": b"png"}])
def test_a_report_of_other_names_or_without_its_page_is_refused(published, files):
    with pytest.raises(PublishError):
        published.write_report("fake-node", 1, files)
    assert not (published.root / "fake-node" / ".reports" / "1").exists()


def test_a_rebuild_replaces_the_whole_report_and_sweeps_a_killed_writers_leftovers(published):
    published.write_report("fake-node", 1, {**PAGE, "probabilities.png": b"old"})
    reports = published.root / "fake-node" / ".reports"
    (reports / ".tmp-killed").mkdir()
    (reports / ".old-1-killed").mkdir()
    folder = published.write_report("fake-node", 1, {**PAGE, "nfe_histogram.png": b"new"})
    assert sorted(p.name for p in folder.iterdir()) == [REPORT_PAGE, "nfe_histogram.png"]
    assert [p.name for p in reports.iterdir()] == ["1"]


def test_a_report_is_readable_by_other_users(store):
    previous = os.umask(0o077)
    try:
        publish_fake(store, "fake-node")
        folder = store.write_report("fake-node", 1, PAGE)
    finally:
        os.umask(previous)
    assert (
        stat.S_IMODE(folder.stat().st_mode) == 0o755 and stat.S_IMODE(folder.parent.stat().st_mode) == 0o755
    )
    assert stat.S_IMODE((folder / REPORT_PAGE).stat().st_mode) == 0o644


def test_an_unknown_version_has_no_report_to_write(published):
    with pytest.raises(VersionNotFound, match="no version 7"):
        published.write_report("fake-node", 7, PAGE)
