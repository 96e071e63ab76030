"""Errors raised by the model store.

StoreError
├── InvalidName          a model name, version or alias that is not allowed
├── ModelNotFound        no such model in the store
├── VersionNotFound      no such version or alias for a model
├── IntegrityError       a stored file is missing, extra, altered or unparsable (names the file)
└── PublishError         a publish that could not complete (nothing becomes visible)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises."""


class InvalidName(StoreError, ValueError):
    """A name, version or alias that does not match the allowed pattern."""


class ModelNotFound(StoreError, LookupError):
    """The model does not exist in the store."""


class VersionNotFound(StoreError, LookupError):
    """The version or alias does not exist for this model."""


class IntegrityError(StoreError):
    """A stored version does not match its manifest; ``filename`` names the culprit."""

    def __init__(self, message: str, filename: str | None = None) -> None:
        super().__init__(message)
        self.filename = filename


class PublishError(StoreError):
    """Publishing failed; no partial version is visible."""
