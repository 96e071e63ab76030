"""Validation of every name that becomes part of a path: models, versions, aliases.

Nothing a caller sends reaches the filesystem without passing through here.
"""

from __future__ import annotations

import re

from .errors import InvalidName

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
_NAME_RE = re.compile(NAME_PATTERN)
_VERSION_RE = re.compile(r"[1-9][0-9]{0,8}")
LATEST = "latest"


def validate_name(name: str, what: str = "model name") -> str:
    """Return ``name`` if it is a valid model or alias name, else raise InvalidName."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in {".", ".."}:
        raise InvalidName(f"invalid {what} {name!r}: expected {NAME_PATTERN}")
    return name


def is_valid_name(name: str) -> bool:
    """True if ``name`` is a valid model or alias name (see :func:`validate_name`)."""
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


def validate_alias(alias: str) -> str:
    """An alias is a name that cannot be mistaken for a version number."""
    validate_name(alias, "alias")
    if alias.isdigit():
        raise InvalidName(f"invalid alias {alias!r}: an alias cannot be a number")
    return alias


def is_version_dirname(text: str) -> bool:
    """True for folder names that are published versions (1, 2, 3, ...)."""
    return bool(_VERSION_RE.fullmatch(text))


def parse_version_ref(ref: str | int | None) -> int | str:
    """Turn a caller's version reference into an int version or a validated alias."""
    if ref is None:
        return LATEST
    if isinstance(ref, int):
        if ref < 1:
            raise InvalidName(f"invalid version {ref}: versions start at 1")
        return ref
    if is_version_dirname(ref):
        return int(ref)
    return validate_alias(ref)
