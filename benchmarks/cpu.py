"""Pinning a command to one CPU core with taskset (optional; load generator and server share the box)."""

from __future__ import annotations

import shutil


class PinError(RuntimeError):
    """Pinning was asked for but taskset is not installed."""


def pinned(cmd: list[str], core: int | None) -> list[str]:
    """``cmd`` prefixed with ``taskset -c core``; unchanged when ``core`` is None."""
    if core is None:
        return cmd
    taskset = shutil.which("taskset")
    if taskset is None:
        raise PinError("pinning needs taskset (Debian: util-linux)")
    return [taskset, "-c", str(core), *cmd]
