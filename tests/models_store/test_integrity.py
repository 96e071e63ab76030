from __future__ import annotations

import pytest

from models_store import GOLDEN_FILE, MANIFEST_FILE, ONNX_FILES, WEIGHTS_FILE, IntegrityError, sha256_file
from models_store.manifest import MANIFEST_DIGEST_FILE

EVERY_FILE = [WEIGHTS_FILE, *ONNX_FILES, GOLDEN_FILE, MANIFEST_FILE, MANIFEST_DIGEST_FILE]


def test_the_list_covers_every_file_of_a_version(published):
    assert sorted(p.name for p in published.version_dir("fake-node", 1).iterdir()) == sorted(EVERY_FILE)


@pytest.mark.parametrize("filename", EVERY_FILE)
@pytest.mark.parametrize("where", [0, -1])
def test_a_one_byte_change_to_any_file_fails_verify_naming_it(published, filename, where):
    path = published.version_dir("fake-node", 1) / filename
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as caught:
        published.verify("fake-node", 1)
    culprit = MANIFEST_FILE if filename == MANIFEST_DIGEST_FILE else filename
    assert caught.value.filename == culprit and culprit in str(caught.value)


def test_a_missing_file_fails_verify(published):
    (published.version_dir("fake-node", 1) / GOLDEN_FILE).unlink()
    with pytest.raises(IntegrityError, match=GOLDEN_FILE):
        published.verify("fake-node", 1)


def test_an_extra_file_fails_verify(published):
    (published.version_dir("fake-node", 1) / "notes.txt").write_text("hi")
    with pytest.raises(IntegrityError, match=r"notes\.txt"):
        published.verify("fake-node", 1)


def test_a_version_copied_under_another_number_fails_verify(published):
    folder = published.version_dir("fake-node", 1)
    folder.rename(folder.with_name("5"))
    with pytest.raises(IntegrityError, match="lives in"):
        published.verify("fake-node", 5)


def test_sha256_file_matches_the_manifest(published):
    folder = published.version_dir("fake-node", 1)
    manifest = published.manifest("fake-node", 1)
    assert {name: sha256_file(folder / name) for name in manifest.files} == manifest.files
