"""Suite-wide: tools keep their data in pytest's temp dir, never in the checkout.

Hypothesis (under schemathesis, in tests/service/test_schemathesis.py) writes a cache of constants
and Unicode tables into ``./.hypothesis`` unless told otherwise; schemathesis's own runner writes
``./.schemathesis``. The session fails if anything was written into such a folder in the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

REPO = Path(__file__).resolve().parents[1]
TOOL_DATA = (".hypothesis", ".schemathesis", "schemathesis-report")
_BEFORE = pytest.StashKey[dict[str, int]]()
_WRITTEN = pytest.StashKey[str]()


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
    message = (
        f"the tests wrote tool data into the checkout: {shown}; "
        "send it to pytest's temp dir (tests/conftest.py), then delete it"
    )
    session.config.stash[_WRITTEN] = message
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    message = config.stash.get(_WRITTEN, None)
    if message is not None:
        terminalreporter.write_sep("=", "tool data in the checkout", red=True)
        terminalreporter.write_line(message, red=True)
