"""Fixtures for the service tests: a fixture store, and real servers (one per store, shared)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixture_store import DEMO_READY, build_store
from live_server import live_server
from tiny_version import export_field, make_version

from models_store import DEFAULT_STORE_ROOT, Manifest, OdeClassifier


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture store, built once; tests that change a store work on a copy."""
    root = tmp_path_factory.mktemp("store-template") / "store"
    build_store(root)
    return root


@pytest.fixture(scope="session")
def api(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server on a read-only copy of the fixture store (no polling)."""
    root = tmp_path_factory.mktemp("store-api") / "store"
    shutil.copytree(store_template, root)
    with live_server(root) as client:
        yield client


@pytest.fixture(scope="session")
def demo_store(store_template: Path) -> Path:
    return DEFAULT_STORE_ROOT if DEMO_READY else store_template


@pytest.fixture(scope="session")
def demo_api(api: httpx.Client) -> Iterator[httpx.Client]:
    """A server on the demo store once it exists; until then the fixture store's server."""
    if not DEMO_READY:
        yield api
        return
    with live_server(DEFAULT_STORE_ROOT) as client:
        yield client


@pytest.fixture(scope="session")
def tiny() -> tuple[OdeClassifier, Manifest]:
    """A tiny model version (random weights), for engine and batcher tests: no store needed."""
    return make_version()


@pytest.fixture(scope="session")
def tiny_onnx(tiny: tuple[OdeClassifier, Manifest]) -> bytes:
    return export_field(tiny[0])


@pytest.fixture(scope="session")
def other_version() -> tuple[OdeClassifier, Manifest]:
    return make_version(seed=7)
