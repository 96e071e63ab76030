"""Where things are in a store, and which folders in it are models and versions.

Layout (README.md, "The model store")::

    <root>/<name>/aliases.json          {"latest": 3, "stable": 2}
    <root>/<name>/<version>/...         manifest.json, manifest.sha256, weights, ONNX, golden
    <root>/<name>/.lock                 flock'd by writers (exclusive) and leftover checks (shared)
    <root>/<name>/.tmp-*                a publish's temporary folder, or aliases.json's next content
    <root>/<name>/.reports/<version>/   a version's training report, rebuildable (see reports.py)

Hidden names (``.lock``, ``.tmp-*``, ``.reports``) are neither valid model names nor version numbers, so no
reader ever lists them.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelNotFound
from .naming import is_valid_name, is_version_dirname

ALIASES_FILE = "aliases.json"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"


def model_names(root: Path) -> list[str]:
    """Names of the models under ``root`` (folders with a valid name), sorted."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and is_valid_name(p.name))


def existing_model_dir(model_dir: Path) -> Path:
    """``model_dir`` itself, or ModelNotFound when the model has no folder."""
    if not model_dir.is_dir():
        raise ModelNotFound(f"model {model_dir.name!r} not found in the store")
    return model_dir


def version_numbers(model_dir: Path) -> list[int]:
    """The published versions in a model's folder, ascending; ModelNotFound without the folder."""
    folder = existing_model_dir(model_dir)
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and is_version_dirname(p.name))
