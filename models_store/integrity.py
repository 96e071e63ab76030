"""Hashing and verification of stored versions. Reads bytes; never unpickles anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from .errors import IntegrityError
from .manifest import MANIFEST_DIGEST_FILE, MANIFEST_FILE, Manifest

MAX_MANIFEST_BYTES = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digest_line(manifest_bytes: bytes) -> bytes:
    """The exact content of ``manifest.sha256`` for these manifest bytes (sha256sum's format)."""
    return f"{sha256_bytes(manifest_bytes)}  {MANIFEST_FILE}\n".encode()


def read_manifest(folder: Path) -> Manifest:
    """Parse a version's manifest after checking it against its digest file."""
    path = folder / MANIFEST_FILE
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise IntegrityError(f"{MANIFEST_FILE} is larger than {MAX_MANIFEST_BYTES} bytes", MANIFEST_FILE)
        raw = path.read_bytes()
        recorded = (folder / MANIFEST_DIGEST_FILE).read_bytes()
    except OSError as exc:
        raise IntegrityError(f"cannot read manifest of {folder}: {exc}", MANIFEST_FILE) from exc
    if recorded != digest_line(raw):  # byte for byte: a changed separator or name is a change too
        raise IntegrityError(f"{MANIFEST_FILE} does not match {MANIFEST_DIGEST_FILE}", MANIFEST_FILE)
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise IntegrityError(f"{MANIFEST_FILE} is not a valid manifest: {exc}", MANIFEST_FILE) from exc


def verify_folder(folder: Path) -> Manifest:
    """Check the manifest schema and the sha256 of every file; raise IntegrityError naming the file."""
    manifest = read_manifest(folder)
    if manifest.version != int(folder.name) or manifest.name != folder.parent.name:
        raise IntegrityError(
            f"{MANIFEST_FILE} says {manifest.name}/{manifest.version} but lives in "
            f"{folder.parent.name}/{folder.name}",
            MANIFEST_FILE,
        )
    present = {p.name for p in folder.iterdir()} - {MANIFEST_FILE, MANIFEST_DIGEST_FILE}
    for extra in sorted(present - set(manifest.files)):
        raise IntegrityError(f"unexpected file {extra} in {folder} (not in the manifest)", extra)
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"{name} is missing from {folder}", name)
        if sha256_file(path) != expected:
            raise IntegrityError(f"{name} in {folder} does not match its sha256 in the manifest", name)
    return manifest
