"""The model store: a folder tree of immutable, versioned, integrity-checked checkpoints.

Layout (see DESIGN.md section 3)::

    <root>/<name>/aliases.json          {"latest": 3, "stable": 2}
    <root>/<name>/<version>/...         manifest.json, manifest.sha256, weights, ONNX, golden

Publishing writes into a hidden temporary folder beside the target, fsyncs, then renames it to
the next version number. ``rename`` of a folder onto an existing non-empty folder fails, so the
rename itself takes the number: two publishers racing get two versions, a killed publisher
leaves only a hidden temporary folder that no reader lists.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .errors import IntegrityError, InvalidName, ModelNotFound, PublishError, VersionNotFound
from .integrity import digest_line, read_manifest, sha256_bytes, verify_folder
from .manifest import MANIFEST_DIGEST_FILE, MANIFEST_FILE, Manifest
from .naming import LATEST, is_version_dirname, parse_version_ref, validate_alias, validate_name

ALIASES_FILE = "aliases.json"
_TMP_PREFIX = ".tmp-"
_LOCK_FILE = ".lock"
_MAX_PUBLISH_ATTEMPTS = 1000

ManifestFactory = Callable[[int, dict[str, str]], Manifest]
"""Builds the manifest for a candidate version number, given the sha256 of every other file."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _manifest_bytes(manifest: Manifest) -> bytes:
    return (manifest.model_dump_json(indent=2) + "\n").encode()


class ModelStore:
    """Read and write access to one store root."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """Names of the models in the store (folders with a valid name), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _valid(p.name))

    def model_dir(self, name: str) -> Path:
        path = self.root / validate_name(name)
        if not path.is_dir():
            raise ModelNotFound(f"model {name!r} not found in the store")
        return path

    def versions(self, name: str) -> list[int]:
        """Published versions of a model, ascending."""
        folder = self.model_dir(name)
        return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and is_version_dirname(p.name))

    def aliases(self, name: str) -> dict[str, int]:
        """The model's aliases; ``latest`` always points at a published version when one exists.

        A corrupt aliases.json raises IntegrityError rather than silently dropping aliases such
        as ``stable`` (a reader like the service then keeps the aliases it had).
        """
        path = self.model_dir(name) / ALIASES_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raw = {}
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{ALIASES_FILE} of model {name!r} is unreadable: {exc}", ALIASES_FILE) from exc
        if not isinstance(raw, dict):
            raise IntegrityError(f"{ALIASES_FILE} of model {name!r} is not a JSON object", ALIASES_FILE)
        aliases = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, int) and _valid(k)}
        versions = self.versions(name)
        if versions and LATEST not in aliases:
            aliases[LATEST] = versions[-1]
        return aliases

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

    # -- writing -------------------------------------------------------------------------------
    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        make_manifest: ManifestFactory,
        *,
        move_latest: bool = True,
    ) -> Manifest:
        """Atomically publish a new version of ``name`` and return its manifest."""
        validate_name(name)
        if MANIFEST_FILE in files or MANIFEST_DIGEST_FILE in files:
            raise PublishError("files must not include the manifest; it is built by make_manifest")
        model_dir = self.root / name
        model_dir.mkdir(parents=True, exist_ok=True)
        digests = {fname: sha256_bytes(data) for fname, data in files.items()}
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=model_dir))
        try:
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide the version from a service run as another user
            for fname, data in files.items():
                _write_file(tmp / fname, data)
            manifest = self._rename_into_place(model_dir, tmp, digests, make_manifest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(model_dir)
        if move_latest:
            with self._locked(name):
                aliases = self._stored_aliases(name)
                if aliases.get(LATEST, 0) < manifest.version:
                    aliases[LATEST] = manifest.version
                    self._write_aliases(name, aliases)
        return manifest

    def _rename_into_place(
        self, model_dir: Path, tmp: Path, digests: dict[str, str], make_manifest: ManifestFactory
    ) -> Manifest:
        candidate = max(self.versions(model_dir.name), default=0) + 1
        for _ in range(_MAX_PUBLISH_ATTEMPTS):
            manifest = make_manifest(candidate, dict(digests))
            if manifest.name != model_dir.name or manifest.version != candidate or manifest.files != digests:
                raise PublishError("make_manifest must use the given name, version and file digests")
            raw = _manifest_bytes(manifest)
            _write_file(tmp / MANIFEST_FILE, raw)
            _write_file(tmp / MANIFEST_DIGEST_FILE, digest_line(raw))
            _fsync_dir(tmp)
            try:
                os.rename(tmp, model_dir / str(candidate))
                return manifest
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise PublishError(f"cannot publish {model_dir.name}: {exc}") from exc
                candidate += 1
        raise PublishError(f"cannot publish {model_dir.name}: too many concurrent publishers")

    def set_alias(self, name: str, alias: str, ref: str | int) -> int:
        """Point ``alias`` at a version (or at what another alias points at); returns the version."""
        validate_alias(alias)
        version = self.resolve(name, ref)
        with self._locked(name):
            aliases = self._stored_aliases(name)
            aliases[alias] = version
            self._write_aliases(name, aliases)
        return version

    def remove_alias(self, name: str, alias: str) -> None:
        validate_alias(alias)
        if alias == LATEST:
            raise InvalidName("'latest' cannot be removed; it follows publishes")
        with self._locked(name):
            aliases = self._stored_aliases(name)
            if aliases.pop(alias, None) is None:
                raise VersionNotFound(f"model {name!r} has no alias {alias!r}")
            self._write_aliases(name, aliases)

    def _stored_aliases(self, name: str) -> dict[str, int]:
        path = self.model_dir(name) / ALIASES_FILE
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return {}

    def _write_aliases(self, name: str, aliases: dict[str, int]) -> None:
        folder = self.model_dir(name)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write((json.dumps(dict(sorted(aliases.items())), indent=2) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / ALIASES_FILE)
        _fsync_dir(folder)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with (self.model_dir(name) / _LOCK_FILE).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _valid(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True
