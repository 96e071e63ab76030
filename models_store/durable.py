"""Durable, world-readable writes: fsync'd files and folders whose modes ignore the umask.

Everything a publish creates is readable by every user (folders 0755, files 0644, whatever the
umask): the service usually runs as another user than the trainer.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE, FILE_MODE = 0o755, 0o644


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, FILE_MODE)  # the umask may have narrowed it; the service may be another user
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def make_dirs(path: Path) -> None:
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
        folder.chmod(stat.S_IMODE(folder.stat().st_mode) | DIR_MODE)
