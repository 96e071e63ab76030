"""Errors the training package raises for a user's mistake (bad data, a program that would not serve).

    TrainingError
    ├── DataError      a dataset that cannot be loaded; the message names the file, column and row
    ├── ExportError    an exported ONNX program disagrees with torch; nothing is published
    ├── DemoError      the demo store cannot be rebuilt as asked (e.g. it exists and no --force)
    └── ReportError    a version whose report cannot be built (e.g. no training record to regenerate data)

The CLI prints these as one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error caused by the user's input rather than by a bug."""


class DataError(TrainingError, ValueError):
    """A dataset that cannot be read or does not make a classification problem."""


class ExportError(TrainingError):
    """An exported program that does not reproduce the torch network."""


class DemoError(TrainingError):
    """The demo store cannot be built as requested."""


class ReportError(TrainingError):
    """A training report that cannot be built for the version asked for."""
