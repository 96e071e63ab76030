"""``python -m training``: argparse front door. Options of ``train`` come from TrainConfig's fields.

A user's mistake (a bad option, unreadable data, a missing model) ends as one line on stderr
and a non-zero exit; the handlers raise, and :func:`main` is the only place that catches.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from models_store import DEFAULT_STORE_ROOT, StoreError

from . import commands
from .config import TrainConfig
from .demo import DEMO_MODELS
from .errors import TrainingError

EXIT_USAGE, EXIT_FAILURE = 2, 1
DESCRIPTION = (
    "Train Neural ODE / Augmented Neural ODE classifiers and manage the model store they are published to."
)


class _Parser(argparse.ArgumentParser):
    """Reports a bad option as one line (no usage block) so scripts and humans see just the cause."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 64,64, got {text!r}"
        ) from None


def _base_type(annotation: Any) -> Any:
    """``X | None`` -> ``X``: None is what leaving the option out means."""
    if get_origin(annotation) in (Union, types.UnionType):
        return next(arg for arg in get_args(annotation) if arg is not type(None))
    return annotation


def _add_field_option(parser: argparse.ArgumentParser, name: str, field: FieldInfo) -> None:
    """One ``--option`` per config field; absent options keep TrainConfig's own default."""
    annotation = _base_type(field.annotation)
    default = ",".join(map(str, field.default)) if isinstance(field.default, list) else field.default
    suffix = "" if default is None else f" (default: {default})"
    kwargs: dict[str, Any] = {
        "dest": name,
        "default": argparse.SUPPRESS,
        "help": f"{field.description}{suffix}",
    }
    if annotation is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif get_origin(annotation) is Literal:
        kwargs["choices"] = get_args(annotation)
    elif get_origin(annotation) is list:
        kwargs.update(type=_int_list, metavar="N,N")
    else:
        kwargs.update(type=annotation, metavar=name.upper())
    parser.add_argument("--" + name.replace("_", "-"), **kwargs)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", type=Path, default=DEFAULT_STORE_ROOT, help="store root (default: the demo store)"
    )


def _add_train(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train a model and publish it as a new version")
    for name, field in TrainConfig.model_fields.items():
        _add_field_option(parser, name, field)
    _store_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=commands.train)


def _add_store_commands(subparsers: Any) -> None:
    listing = subparsers.add_parser("list", help="models, versions, aliases and test accuracy")
    listing.set_defaults(handler=commands.list_models)
    show = subparsers.add_parser("show", help="print a version's manifest (JSON)")
    show.add_argument("name")
    show.add_argument("version", nargs="?", help="version number or alias (default: latest)")
    show.set_defaults(handler=commands.show)
    alias = subparsers.add_parser("alias", help="point an alias at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", help="version number, or an alias to copy")
    alias.set_defaults(handler=commands.alias)
    verify = subparsers.add_parser("verify", help="check every file of a version against its manifest")
    verify.add_argument("name")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("version", nargs="?", help="version number or alias (default: latest)")
    which.add_argument("--all", action="store_true", help="verify every version of the model")
    verify.set_defaults(handler=commands.verify)
    for parser in (listing, show, alias, verify):
        _store_option(parser)


def _add_demo(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="rebuild the demo models deterministically")
    demo.add_argument("--force", action="store_true", help="remove existing demo model folders first")
    demo.add_argument(
        "--only", action="append", choices=list(DEMO_MODELS), help="build only this model (repeatable)"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    _store_option(demo)
    demo.set_defaults(handler=commands.demo)


def _add_report(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="draw a version's training report (PNG figures and an HTML page)"
    )
    report.add_argument("name")
    report.add_argument("version", help="version number or alias")
    report.add_argument(
        "--out", type=Path, help="write the files into this folder (default: beside the version in the store)"
    )
    _store_option(report)
    report.set_defaults(handler=commands.report)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m training", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(subparsers)
    _add_store_commands(subparsers)
    _add_demo(subparsers)
    _add_report(subparsers)
    return parser


def describe(error: ValidationError) -> str:
    """A ValidationError as one line, naming options the way the user typed them."""
    parts = []
    for item in error.errors():
        where = (
            "--" + str(item["loc"][0]).replace("_", "-")
            if item["loc"] and error.title == "TrainConfig"
            else ""
        )
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts).replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)  # argparse namespaces are untyped
        return status
    except ValidationError as exc:
        message = describe(exc)
    except (TrainingError, StoreError, OSError) as exc:
        message = str(exc).replace("\n", " ")
    print(f"python -m training: error: {message}", file=sys.stderr)
    return EXIT_FAILURE
