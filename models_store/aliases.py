"""A model's aliases.json: reading it as readers see it, and rewriting it atomically.

Besides the aliases it holds the journal of a publish (key ``.publishing``, see publishing.py):
the version a live (or killed) publish renames into place and makes ``latest``. Readers apply a
journal whose folder exists, so a version renamed into place by a publisher killed before it
rewrote aliases.json is ``latest`` at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .durable import FILE_MODE, fsync_dir
from .errors import IntegrityError, VersionNotFound
from .layout import ALIASES_FILE, TMP_PREFIX, version_numbers
from .locking import locked
from .naming import LATEST, is_valid_name

PUBLISHING = ".publishing"
"""aliases.json key of the journal: the version a live (or killed) publish renames and makes latest.

Not a valid alias name, so readers that filter aliases never mistake it for one."""


def read_aliases(model_dir: Path) -> dict[str, int]:
    """The model's aliases; ``latest`` always points at a published version when one exists.

    A journaled publish whose folder exists counts as done (its publisher may have been killed
    before rewriting the file). A corrupt aliases.json raises IntegrityError rather than
    silently dropping aliases such as ``stable`` (a reader like the service then keeps the
    aliases it had).
    """
    name = model_dir.name
    path = model_dir / ALIASES_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError) as exc:
        message = f"{ALIASES_FILE} of model {name!r} is unreadable: {exc}"
        raise IntegrityError(message, ALIASES_FILE) from exc
    if not isinstance(raw, dict):
        raise IntegrityError(f"{ALIASES_FILE} of model {name!r} is not a JSON object", ALIASES_FILE)
    aliases = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, int) and is_valid_name(k)}
    versions = version_numbers(model_dir)
    apply_journal(aliases, raw.get(PUBLISHING), versions)
    if versions and LATEST not in aliases:
        aliases[LATEST] = versions[-1]
    return aliases


def point_alias(model_dir: Path, alias: str, version: int) -> None:
    """Point a (validated) alias at a (resolved) version, under the exclusive ``.lock``."""
    with locked(model_dir):
        aliases = settled_aliases(model_dir)[0]
        aliases[alias] = version
        write_aliases(model_dir, aliases)


def drop_alias(model_dir: Path, alias: str) -> None:
    """Remove a (validated) alias under the exclusive ``.lock``; VersionNotFound if it is not set."""
    with locked(model_dir):
        aliases = settled_aliases(model_dir)[0]
        if aliases.pop(alias, None) is None:
            raise VersionNotFound(f"model {model_dir.name!r} has no alias {alias!r}")
        write_aliases(model_dir, aliases)


def _stored_aliases(model_dir: Path) -> dict[str, int]:
    path = model_dir / ALIASES_FILE
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}


def settled_aliases(model_dir: Path) -> tuple[dict[str, int], bool]:
    """Stored aliases with a dead publisher's journal applied (or dropped), and whether one was there.

    Only under the exclusive ``.lock``: then no publish is between its journal and its rename.
    """
    aliases = _stored_aliases(model_dir)
    journal = aliases.pop(PUBLISHING, None)
    apply_journal(aliases, journal, version_numbers(model_dir))
    return aliases, journal is not None


def write_aliases(model_dir: Path, aliases: Mapping[str, int]) -> None:
    """Replace aliases.json atomically (and durably); only under the exclusive ``.lock``."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=model_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would hide the aliases from the service
            fh.write((json.dumps(dict(sorted(aliases.items())), indent=2) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, model_dir / ALIASES_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(model_dir)


def apply_journal(aliases: dict[str, int], journal: object, versions: list[int]) -> None:
    """A journaled version whose folder exists was renamed into place: it is ``latest`` (if newer)."""
    if isinstance(journal, int) and journal in versions and aliases.get(LATEST, 0) < journal:
        aliases[LATEST] = journal
