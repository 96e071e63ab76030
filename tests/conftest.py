"""Suite-wide: the data tools keep between runs goes into pytest's temp dir, never into the checkout.

Hypothesis (under schemathesis, in tests/service/test_schemathesis.py) writes a cache of constants
and Unicode tables into ``./.hypothesis`` unless told otherwise; schemathesis's own runner writes
``./.schemathesis``. The session fails if anything was written into such a folder in the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

REPO = Path(__file__).resolve().parents[1]
TOOL_DATA = (".hypothesis", ".schemathesis", "schemathesis-report")
_BEFORE = pytest.StashKey[dict[str, int]]()


@pytest.fixture(scope="session", autouse=True)
def _tool_data_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))


def _tool_data() -> dict[str, int]:
    """Every file and folder under TOOL_DATA in the checkout, with its modification time."""
    found: dict[str, int] = {}
    for name in TOOL_DATA:
        top = REPO / name
        for path in [top, *top.rglob("*")] if top.exists() else []:
            try:
                found[str(path.relative_to(REPO))] = path.stat().st_mtime_ns
            except FileNotFoundError:
                pass
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[_BEFORE] = _tool_data()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.stash.get(_BEFORE, {})
    written = sorted(path for path, mtime in _tool_data().items() if before.get(path) != mtime)
    if not written:
        return
    shown = ", ".join(written[:5]) + (f" and {len(written) - 5} more" if len(written) > 5 else "")
    message = (f"the tests wrote tool data into the checkout: {shown}; "
               "send it to pytest's temp dir (tests/conftest.py), then delete it")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "tool data in the checkout", red=True)
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
