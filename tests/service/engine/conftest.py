"""Fixtures for engine tests: tiny model versions (random weights); no store needed."""

from __future__ import annotations

import pytest
from tiny_version import export_field, make_version

from models_store import Manifest, OdeClassifier


@pytest.fixture(scope="session")
def tiny() -> tuple[OdeClassifier, Manifest]:
    return make_version()


@pytest.fixture(scope="session")
def tiny_onnx(tiny: tuple[OdeClassifier, Manifest]) -> bytes:
    return export_field(tiny[0])


@pytest.fixture(scope="session")
def other_version() -> tuple[OdeClassifier, Manifest]:
    return make_version(seed=7)
