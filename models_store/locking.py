"""A model's ``.lock``: held exclusively by writers, shared by a reader checking for leftovers.

Writers (a publish's sweep and rename, alias moves) serialise on it; see publishing.py for what
it guarantees across a killed publisher.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .durable import FILE_MODE
from .layout import LOCK_FILE, existing_model_dir


@contextlib.contextmanager
def locked(model_dir: Path, *, shared: bool = False) -> Iterator[None]:
    """The model's ``.lock``: exclusive for writers, shared for a reader checking leftovers.

    A reader that cannot open the lock file (none yet, or not its to open) goes without: with
    no lock file no publish has started; otherwise its report is merely best effort.
    """
    path = existing_model_dir(model_dir) / LOCK_FILE
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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return os.open(path, os.O_WRONLY)
    os.fchmod(fd, FILE_MODE)  # every file a publish creates is readable by others, this one too
    return fd
