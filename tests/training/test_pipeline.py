from __future__ import annotations

import numpy as np
import pytest

from models_store import ModelStore
from training import ExportError, TrainConfig, splits_from_record, train_and_publish
from training import onnx_programs as programs_module

CSV = "petal,sepal,species\n" + "".join(
    f"{i % 7},{i % 5 - 2},{['setosa', 'iris'][i % 2]}\n" for i in range(40)
)


def test_a_csv_model_records_its_columns_classes_and_data(tmp_path):
    (tmp_path / "flowers.csv").write_text(CSV)
    config = TrainConfig(
        name="flowers", dataset="csv", data=tmp_path / "flowers.csv", label_column="species", epochs=1
    )
    store = ModelStore(tmp_path / "store")
    manifest = train_and_publish(config, store)
    assert (manifest.name, manifest.version, manifest.family) == ("flowers", 1, "node")
    assert manifest.input.feature_names == ["petal", "sepal"] and manifest.classes == ["iris", "setosa"]
    assert manifest.training.split_sizes == {"train": 28, "val": 6, "test": 6}
    assert set(manifest.libraries) >= {"torch", "torchdiffeq", "onnx", "numpy"}
    test = splits_from_record(manifest.training).test
    assert len(test) == 6 and np.isin(test.x[:, 0], np.arange(7)).all()
    assert store.verify("flowers", 1) == manifest


def test_a_model_whose_programs_disagree_is_not_published(tmp_path, tiny_config, monkeypatch):
    monkeypatch.setattr(programs_module, "TOLERANCE", -1.0)
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ExportError):
        train_and_publish(tiny_config, store)
    assert store.list_models() == []
