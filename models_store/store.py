"""The model store: a folder tree of immutable, versioned, integrity-checked checkpoints.

Layout (README.md, "The model store")::

    <root>/<name>/aliases.json          {"latest": 3, "stable": 2}
    <root>/<name>/<version>/...         manifest.json, manifest.sha256, weights, ONNX, golden
    <root>/<name>/.lock                 flock'd by writers (exclusive) and leftover checks (shared)

Publishing writes into a hidden temporary folder beside the target, fsyncs, then renames it to
the next version number. ``rename`` of a folder onto an existing non-empty folder fails, so the
rename itself takes the number: two publishers racing get two versions, a killed publisher
leaves only a hidden temporary folder that no reader lists.

A publish may be killed at any instant, so:

* Each publisher flocks its temporary folder from the moment it makes it (under ``.lock``) until
  its rename; the kernel drops that flock when the process dies. A temporary folder nobody holds
  is a leftover: :meth:`ModelStore.leftovers` reports it and the next publish removes it.
* The rename and the move of ``latest`` happen under ``.lock``, with the version about to become
  ``latest`` journaled in aliases.json (key ``.publishing``) before the rename. Readers apply a
  journal whose folder exists, so a version renamed into place by a publisher killed before it
  rewrote aliases.json is ``latest`` at once, for :meth:`ModelStore.resolve` and the service alike.
* Everything a publish creates is readable by every user (folders 0755, files 0644, whatever the
  umask): the service usually runs as another user than the trainer.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
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
_PUBLISHING = ".publishing"
"""aliases.json key of the journal: the version a live (or killed) publish renames and makes latest.

Not a valid alias name, so readers that filter aliases never mistake it for one."""
_MAX_PUBLISH_ATTEMPTS = 1000
_DIR_MODE, _FILE_MODE = 0o755, 0o644

ManifestFactory = Callable[[int, dict[str, str]], Manifest]
"""Builds the manifest for a candidate version number, given the sha256 of every other file."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, _FILE_MODE)  # the umask may have narrowed it; the service may be another user
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new folders others can list and enter, whatever the umask."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # a concurrent publisher made it, and widens it
        folder.chmod(stat.S_IMODE(folder.stat().st_mode) | _DIR_MODE)


def _is_leftover(path: Path) -> bool:
    """True unless ``path`` is a live publisher's temporary folder (or is gone). Call under ``.lock``.

    Temporary files are aliases.json's, made and renamed under the exclusive lock, so any seen
    under the lock are a dead writer's. A folder is live while its publisher holds its flock.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # a link, or unreadable: no publisher of ours made that
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            return True
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Best effort: a leftover that cannot be removed must not stop a publish; verify reports it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


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

        A journaled publish whose folder exists counts as done (its publisher may have been killed
        before rewriting the file). A corrupt aliases.json raises IntegrityError rather than
        silently dropping aliases such as ``stable`` (a reader like the service then keeps the
        aliases it had).
        """
        path = self.model_dir(name) / ALIASES_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raw = {}
        except (OSError, ValueError) as exc:
            message = f"{ALIASES_FILE} of model {name!r} is unreadable: {exc}"
            raise IntegrityError(message, ALIASES_FILE) from exc
        if not isinstance(raw, dict):
            raise IntegrityError(f"{ALIASES_FILE} of model {name!r} is not a JSON object", ALIASES_FILE)
        aliases = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, int) and _valid(k)}
        versions = self.versions(name)
        _apply_journal(aliases, raw.get(_PUBLISHING), versions)
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

    def leftovers(self, name: str) -> list[Path]:
        """Temporary files and folders of publishes that died; the next publish removes them.

        A live publish's folder is not one: its publisher holds the folder's flock.
        """
        folder = self.model_dir(name)
        with self._locked(name, shared=True):
            return [p for p in sorted(folder.iterdir()) if p.name.startswith(_TMP_PREFIX) and _is_leftover(p)]

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
        _make_dirs(model_dir)
        digests = {fname: sha256_bytes(data) for fname, data in files.items()}
        tmp, hold = self._claim_temporary(name)
        try:
            for fname, data in files.items():
                _write_file(tmp / fname, data)
            return self._rename_into_place(model_dir, tmp, digests, make_manifest, move_latest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(hold)  # drops the flock: from here on the folder is a version or gone

    def _claim_temporary(self, name: str) -> tuple[Path, int]:
        """Remove dead publishers' leftovers, then make and flock our temporary folder.

        Both under the exclusive ``.lock``, so no one checking for leftovers ever sees a folder
        between its mkdtemp and its flock. Returns the folder and the descriptor holding the flock.
        """
        model_dir = self.model_dir(name)
        with self._locked(name):
            for path in sorted(model_dir.iterdir()):
                if path.name.startswith(_TMP_PREFIX) and _is_leftover(path):
                    _remove(path)
            tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=model_dir))
            try:
                tmp.chmod(_DIR_MODE)  # mkdtemp's 0700 would hide the version from a service of another user
                hold = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            try:
                fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(hold)
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return tmp, hold

    def _rename_into_place(
        self,
        model_dir: Path,
        tmp: Path,
        digests: dict[str, str],
        make_manifest: ManifestFactory,
        move_latest: bool,
    ) -> Manifest:
        """make_manifest runs outside ``.lock`` (it may be slow, or wait on another publisher)."""
        name = model_dir.name
        candidate = max(self.versions(name), default=0) + 1
        for _ in range(_MAX_PUBLISH_ATTEMPTS):
            manifest = make_manifest(candidate, dict(digests))
            if manifest.name != name or manifest.version != candidate or manifest.files != digests:
                raise PublishError("make_manifest must use the given name, version and file digests")
            raw = _manifest_bytes(manifest)
            _write_file(tmp / MANIFEST_FILE, raw)
            _write_file(tmp / MANIFEST_DIGEST_FILE, digest_line(raw))
            _fsync_dir(tmp)
            with self._locked(name):
                if self._commit(name, tmp, candidate, move_latest):
                    return manifest
            candidate = max(candidate, *self.versions(name)) + 1
        raise PublishError(f"cannot publish {name}: too many concurrent publishers")

    def _commit(self, name: str, tmp: Path, version: int, move_latest: bool) -> bool:
        """Rename ``tmp`` to ``version`` and move ``latest``; False when the number is taken.

        The caller holds ``.lock``. The journal written before the rename makes a kill between
        the rename and the final aliases.json as good as a finished publish (see the module doc).
        """
        model_dir = self.model_dir(name)
        target = model_dir / str(version)
        if os.path.lexists(target):
            return False
        aliases, journaled = self._settled_aliases(name)
        if move_latest or journaled:  # a dead publisher's journal must not name our version
            self._write_aliases(name, {**aliases, _PUBLISHING: version} if move_latest else aliases)
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if move_latest:
                self._write_aliases(name, aliases)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return False
            raise PublishError(f"cannot publish {name}: {exc}") from exc
        _fsync_dir(model_dir)
        if move_latest:
            if aliases.get(LATEST, 0) < version:
                aliases[LATEST] = version
            self._write_aliases(name, aliases)
        return True

    def set_alias(self, name: str, alias: str, ref: str | int) -> int:
        """Point ``alias`` at a version (or at what another alias points at); returns the version."""
        validate_alias(alias)
        version = self.resolve(name, ref)
        with self._locked(name):
            aliases = self._settled_aliases(name)[0]
            aliases[alias] = version
            self._write_aliases(name, aliases)
        return version

    def remove_alias(self, name: str, alias: str) -> None:
        validate_alias(alias)
        if alias == LATEST:
            raise InvalidName("'latest' cannot be removed; it follows publishes")
        with self._locked(name):
            aliases = self._settled_aliases(name)[0]
            if aliases.pop(alias, None) is None:
                raise VersionNotFound(f"model {name!r} has no alias {alias!r}")
            self._write_aliases(name, aliases)

    def _stored_aliases(self, name: str) -> dict[str, int]:
        path = self.model_dir(name) / ALIASES_FILE
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return {}

    def _settled_aliases(self, name: str) -> tuple[dict[str, int], bool]:
        """Stored aliases with a dead publisher's journal applied (or dropped), and whether one was there.

        Only under the exclusive ``.lock``: then no publish is between its journal and its rename.
        """
        aliases = self._stored_aliases(name)
        journal = aliases.pop(_PUBLISHING, None)
        _apply_journal(aliases, journal, self.versions(name))
        return aliases, journal is not None

    def _write_aliases(self, name: str, aliases: Mapping[str, int]) -> None:
        folder = self.model_dir(name)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fd, _FILE_MODE)  # mkstemp's 0600 would hide the aliases from the service
                fh.write((json.dumps(dict(sorted(aliases.items())), indent=2) + "\n").encode())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, folder / ALIASES_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)

    @contextlib.contextmanager
    def _locked(self, name: str, *, shared: bool = False) -> Iterator[None]:
        """The model's ``.lock``: exclusive for writers, shared for a reader checking leftovers.

        A reader that cannot open the lock file (none yet, or not its to open) goes without: with
        no lock file no publish has started; otherwise its report is merely best effort.
        """
        path = self.model_dir(name) / _LOCK_FILE
        fd: int | None = _open_lock_file(path) if not shared else None
        if shared:
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY)
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def _open_lock_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        return os.open(path, os.O_WRONLY)
    os.fchmod(fd, _FILE_MODE)  # every file a publish creates is readable by others, this one too
    return fd


def _apply_journal(aliases: dict[str, int], journal: object, versions: list[int]) -> None:
    """A journaled version whose folder exists was renamed into place: it is ``latest`` (if newer)."""
    if isinstance(journal, int) and journal in versions and aliases.get(LATEST, 0) < journal:
        aliases[LATEST] = journal


def _valid(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True
