"""Fixtures for deploy/: a real Prometheus scraping a target of the test's choice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prometheus_harness import Prometheus, running_prometheus


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    """Call with a ``host:port`` to scrape; every Prometheus started is stopped after the test."""
    with ExitStack() as stack:
        yield lambda target: stack.enter_context(running_prometheus(tmp_path / f"prom-{target}", [target]))
