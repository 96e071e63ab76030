"""The package's static files (``service/static/<folder>/``), served by Starlette's file server.

One way to serve them for every page that has some (the explorer, the API docs): ETags, ranges,
and no path that leaves the folder (``..``, an absolute path or a symlink out answers 404).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_ROOT = Path(__file__).resolve().parents[1] / "static"


class StaticFolder:
    """One folder under ``service/static/``; its file server is built on first use."""

    def __init__(self, name: str) -> None:
        self.directory = STATIC_ROOT / name

    @cached_property
    def _files(self) -> StaticFiles:
        return StaticFiles(directory=self.directory)

    async def serve(self, path: str, scope: Scope) -> Response:
        """The file at ``path`` ('/'-separated, relative to the folder), or Starlette's 404."""
        relative = os.path.normpath(os.path.join(*path.split("/"))) if path else "."
        return await self._files.get_response(relative, scope)
