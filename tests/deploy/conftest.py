"""Fixtures for deploy/: a real Prometheus scraping the targets of the test's choice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from prometheus_harness import Prometheus, running_prometheus


@pytest.fixture(scope="module")
def start_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Prometheus]]:
    """Call with ``host:port`` targets to scrape; every Prometheus started stops with the module."""
    with ExitStack() as stack:

        def start(*targets: str) -> Prometheus:
            return stack.enter_context(running_prometheus(tmp_path_factory.mktemp("prom"), list(targets)))

        yield start
