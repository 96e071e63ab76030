from __future__ import annotations

import pytest
from store_fakes import publish_fake

from models_store import ModelStore


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


@pytest.fixture
def published(store: ModelStore) -> ModelStore:
    """A store holding one complete version: fake-node/1."""
    publish_fake(store, "fake-node")
    return store
