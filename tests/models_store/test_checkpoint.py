from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from models_store import (
    GOLDEN_FILE,
    MANIFEST_FILE,
    WEIGHTS_FILE,
    IntegrityError,
    ModelStore,
    load_golden,
    load_network,
    sha256_file,
)
from models_store.integrity import digest_line
from models_store.manifest import MANIFEST_DIGEST_FILE


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``: the classic pickle exploit."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _raw_pickle(marker: Path, path: Path) -> None:
    path.write_bytes(pickle.dumps(_Payload(marker)))


def _torch_save(marker: Path, path: Path) -> None:
    torch.save({"field.net.0.weight": _Payload(marker)}, path)


def _replace_and_rehash(store: ModelStore, filename: str, write) -> Path:
    """Swap a file and update the manifest digests so that sha256 verification passes."""
    folder = store.version_dir("fake-node", 1)
    write(folder / filename)
    manifest = store.manifest("fake-node", 1)
    files = {**manifest.files, filename: sha256_file(folder / filename)}
    raw = (manifest.model_copy(update={"files": files}).model_dump_json(indent=2) + "\n").encode()
    (folder / MANIFEST_FILE).write_bytes(raw)
    (folder / MANIFEST_DIGEST_FILE).write_bytes(digest_line(raw))
    return folder


@pytest.mark.parametrize("make_pickle", [_raw_pickle, _torch_save])
def test_a_pickle_posing_as_weights_is_refused_without_being_unpickled(published, tmp_path, make_pickle):
    armed = tmp_path / "armed"
    make_pickle(armed, tmp_path / "probe")
    if make_pickle is _raw_pickle:  # the payload is live: unpickling it does create its marker
        pickle.loads((tmp_path / "probe").read_bytes())
        assert armed.exists()
    marker = tmp_path / "pwned"
    folder = _replace_and_rehash(published, WEIGHTS_FILE, lambda path: make_pickle(marker, path))
    manifest = published.verify("fake-node", 1)  # the digests match: only the format check stands
    with pytest.raises(IntegrityError) as caught:
        load_network(folder, manifest)
    assert caught.value.filename == WEIGHTS_FILE
    assert not marker.exists()


def test_weights_of_another_architecture_are_refused(published):
    other = torch.nn.Linear(3, 3)
    from safetensors.torch import save

    folder = _replace_and_rehash(
        published, WEIGHTS_FILE, lambda path: path.write_bytes(save(other.state_dict()))
    )
    with pytest.raises(IntegrityError, match="does not fit"):
        load_network(folder, published.verify("fake-node", 1))


def test_load_network_gives_an_eval_network(published):
    folder = published.version_dir("fake-node", 1)
    network = load_network(folder, published.verify("fake-node", 1))
    assert not network.training
    assert network.head(torch.zeros(1, 3)).shape == (1, 2)


def test_an_invalid_golden_is_refused(published):
    folder = _replace_and_rehash(published, GOLDEN_FILE, lambda path: path.write_text('{"inputs": []}'))
    with pytest.raises(IntegrityError) as caught:
        load_golden(folder)
    assert caught.value.filename == GOLDEN_FILE
