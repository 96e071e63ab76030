"""The model store: a folder tree of immutable, versioned, integrity-checked checkpoints.

:class:`ModelStore` is the one entry point. Behind it, one concept per module:

* layout.py: where things are in a store (README.md, "The model store"), and which folders are
  models and versions;
* publishing.py: the publish transaction (temporary folder, rename, journal) and why a killed
  publisher leaves nothing visible;
* aliases.py: aliases.json, read with a killed publisher's journal applied and rewritten atomically;
* locking.py: a model's ``.lock``; durable.py: fsync'd writes readable by every user;
* reports.py: training reports, derived pictures kept beside the versions (never inside one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from . import publishing, reports
from .aliases import drop_alias, point_alias, read_aliases
from .errors import InvalidName, VersionNotFound
from .integrity import read_manifest, verify_folder
from .layout import existing_model_dir, model_names, version_numbers
from .manifest import Manifest
from .naming import LATEST, parse_version_ref, validate_alias, validate_name
from .publishing import ManifestFactory


class ModelStore:
    """Read and write access to one store root."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """Names of the models in the store (folders with a valid name), sorted."""
        return model_names(self.root)

    def model_dir(self, name: str) -> Path:
        return existing_model_dir(self.root / validate_name(name))

    def versions(self, name: str) -> list[int]:
        """Published versions of a model, ascending."""
        return version_numbers(self.root / validate_name(name))

    def aliases(self, name: str) -> dict[str, int]:
        """The model's aliases; ``latest`` always points at a published version when one exists.

        A journaled publish whose folder exists counts as done (its publisher may have been killed
        before rewriting the file). A corrupt aliases.json raises IntegrityError rather than
        silently dropping aliases such as ``stable`` (a reader like the service then keeps the
        aliases it had).
        """
        return read_aliases(self.model_dir(name))

    def resolve(self, name: str, ref: str | int | None = None) -> int:
        """The version number a reference (number, alias, or None for ``latest``) points at."""
        parsed = parse_version_ref(ref)
        if isinstance(parsed, int):
            version = parsed
        else:
            aliases = self.aliases(name)
            if parsed not in aliases:
                raise VersionNotFound(f"model {name!r} has no alias {parsed!r}")
            version = aliases[parsed]
        if not (self.model_dir(name) / str(version)).is_dir():
            raise VersionNotFound(f"model {name!r} has no version {version}")
        return version

    def version_dir(self, name: str, ref: str | int | None = None) -> Path:
        return self.model_dir(name) / str(self.resolve(name, ref))

    def manifest(self, name: str, ref: str | int | None = None) -> Manifest:
        """The manifest of a version, checked against its digest (files are not hashed)."""
        return read_manifest(self.version_dir(name, ref))

    def verify(self, name: str, ref: str | int | None = None) -> Manifest:
        """Schema plus sha256 of every file; raises IntegrityError naming the first bad file."""
        return verify_folder(self.version_dir(name, ref))

    def report_file(self, name: str, version: int, file: str) -> Path | None:
        """The report's file ``file`` if it is one of the fixed names and exists as a regular file."""
        return reports.report_file(self.root / validate_name(name), version, file)

    def leftovers(self, name: str) -> list[Path]:
        """Temporary files and folders of publishes that died; the next publish removes them.

        A live publish's folder is not one: its publisher holds the folder's flock.
        """
        return publishing.leftovers(self.model_dir(name))

    # -- writing -------------------------------------------------------------------------------
    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        make_manifest: ManifestFactory,
        *,
        move_latest: bool = True,
    ) -> Manifest:
        """Atomically publish a new version of ``name`` and return its manifest (see publishing.py)."""
        validate_name(name)
        return publishing.publish(self.root / name, files, make_manifest, move_latest)

    def set_alias(self, name: str, alias: str, ref: str | int) -> int:
        """Point ``alias`` at a version (or at what another alias points at); returns the version."""
        validate_alias(alias)
        version = self.resolve(name, ref)
        point_alias(self.model_dir(name), alias, version)
        return version

    def write_report(self, name: str, ref: str | int | None, files: Mapping[str, bytes]) -> Path:
        """Replace the training report of a version (number or alias) with ``files``; returns its folder."""
        return reports.write_report(self.model_dir(name), self.resolve(name, ref), files)

    def remove_alias(self, name: str, alias: str) -> None:
        validate_alias(alias)
        if alias == LATEST:
            raise InvalidName("'latest' cannot be removed; it follows publishes")
        drop_alias(self.model_dir(name), alias)
