"""The publish transaction: a new version appears whole, or not at all.

Publishing writes into a hidden temporary folder beside the target, fsyncs, then renames it to
the next version number. ``rename`` of a folder onto an existing non-empty folder fails, so the
rename itself takes the number: two publishers racing get two versions, a killed publisher
leaves only a hidden temporary folder that no reader lists.

A publish may be killed at any instant, so:

* Each publisher flocks its temporary folder from the moment it makes it (under ``.lock``) until
  its rename; the kernel drops that flock when the process dies. A temporary folder nobody holds
  is a leftover: :func:`leftovers` reports it and the next publish removes it.
* The rename and the move of ``latest`` happen under ``.lock``, with the version about to become
  ``latest`` journaled in aliases.json (key ``.publishing``, see aliases.py) before the rename.
  Readers apply a journal whose folder exists, so a version renamed into place by a publisher
  killed before it rewrote aliases.json is ``latest`` at once, for ``ModelStore.resolve`` and the
  service alike.
* Everything a publish creates is readable by every user (see durable.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .aliases import PUBLISHING, settled_aliases, write_aliases
from .durable import DIR_MODE, fsync_dir, make_dirs, write_file
from .errors import PublishError
from .integrity import digest_line, sha256_bytes
from .layout import TMP_PREFIX, version_numbers
from .locking import locked
from .manifest import MANIFEST_DIGEST_FILE, MANIFEST_FILE, Manifest
from .naming import LATEST

_MAX_PUBLISH_ATTEMPTS = 1000

ManifestFactory = Callable[[int, dict[str, str]], Manifest]
"""Builds the manifest for a candidate version number, given the sha256 of every other file."""


def publish(
    model_dir: Path, files: Mapping[str, bytes], make_manifest: ManifestFactory, move_latest: bool
) -> Manifest:
    """Atomically publish a new version into ``model_dir`` (made if need be); returns its manifest."""
    if MANIFEST_FILE in files or MANIFEST_DIGEST_FILE in files:
        raise PublishError("files must not include the manifest; it is built by make_manifest")
    make_dirs(model_dir)
    digests = {fname: sha256_bytes(data) for fname, data in files.items()}
    tmp, hold = _claim_temporary(model_dir)
    try:
        for fname, data in files.items():
            write_file(tmp / fname, data)
        return _rename_into_place(model_dir, tmp, digests, make_manifest, move_latest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(hold)  # drops the flock: from here on the folder is a version or gone


def leftovers(model_dir: Path) -> list[Path]:
    """Temporary files and folders of publishes that died; the next publish removes them.

    A live publish's folder is not one: its publisher holds the folder's flock.
    """
    with locked(model_dir, shared=True):
        return list(_dead_temporaries(model_dir))


def _dead_temporaries(model_dir: Path) -> Iterator[Path]:
    """The leftovers in ``model_dir``, each checked just before it is yielded. Call under ``.lock``."""
    for path in sorted(model_dir.iterdir()):
        if path.name.startswith(TMP_PREFIX) and _is_leftover(path):
            yield path


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


def _claim_temporary(model_dir: Path) -> tuple[Path, int]:
    """Remove dead publishers' leftovers, then make and flock our temporary folder.

    Both under the exclusive ``.lock``, so no one checking for leftovers ever sees a folder
    between its mkdtemp and its flock. Returns the folder and the descriptor holding the flock.
    """
    with locked(model_dir):
        for path in _dead_temporaries(model_dir):
            _remove(path)
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=model_dir))
        try:
            tmp.chmod(DIR_MODE)  # mkdtemp's 0700 would hide the version from a service of another user
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


def _manifest_bytes(manifest: Manifest) -> bytes:
    return (manifest.model_dump_json(indent=2) + "\n").encode()


def _rename_into_place(
    model_dir: Path,
    tmp: Path,
    digests: dict[str, str],
    make_manifest: ManifestFactory,
    move_latest: bool,
) -> Manifest:
    """make_manifest runs outside ``.lock`` (it may be slow, or wait on another publisher)."""
    name = model_dir.name
    candidate = max(version_numbers(model_dir), default=0) + 1
    for _ in range(_MAX_PUBLISH_ATTEMPTS):
        manifest = make_manifest(candidate, dict(digests))
        if manifest.name != name or manifest.version != candidate or manifest.files != digests:
            raise PublishError("make_manifest must use the given name, version and file digests")
        raw = _manifest_bytes(manifest)
        write_file(tmp / MANIFEST_FILE, raw)
        write_file(tmp / MANIFEST_DIGEST_FILE, digest_line(raw))
        fsync_dir(tmp)
        with locked(model_dir):
            if _commit(model_dir, tmp, candidate, move_latest):
                return manifest
        candidate = max(candidate, *version_numbers(model_dir)) + 1
    raise PublishError(f"cannot publish {name}: too many concurrent publishers")


def _commit(model_dir: Path, tmp: Path, version: int, move_latest: bool) -> bool:
    """Rename ``tmp`` to ``version`` and move ``latest``; False when the number is taken.

    The caller holds ``.lock``. The journal written before the rename makes a kill between
    the rename and the final aliases.json as good as a finished publish (see the module doc).
    """
    target = model_dir / str(version)
    if os.path.lexists(target):
        return False
    aliases, journaled = settled_aliases(model_dir)
    if move_latest or journaled:  # a dead publisher's journal must not name our version
        write_aliases(model_dir, {**aliases, PUBLISHING: version} if move_latest else aliases)
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if move_latest:
            write_aliases(model_dir, aliases)
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise PublishError(f"cannot publish {model_dir.name}: {exc}") from exc
    fsync_dir(model_dir)
    if move_latest:
        if aliases.get(LATEST, 0) < version:
            aliases[LATEST] = version
        write_aliases(model_dir, aliases)
    return True
