"""What each CLI subcommand does, given parsed arguments; returns the exit status."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from models_store import IntegrityError, Manifest, ModelStore, VersionNotFound, load_golden, load_network

from .config import TrainConfig
from .demo import build_demo
from .pipeline import train_and_publish
from .report import build_report

_NOT_CONFIG = {"command", "handler", "store", "quiet"}


def _progress_console(args: argparse.Namespace) -> Console | None:
    return None if args.quiet else Console(stderr=True)


def summary(manifest: Manifest) -> str:
    """One line a user reads after a publish: where it went and how good it is."""
    record = manifest.training
    if record is None:
        return f"{manifest.name} version {manifest.version}"
    nfe = record.nfe
    return (
        f"published {manifest.name} version {manifest.version}: test accuracy "
        f"{record.metrics['test'].accuracy:.4f}, NFE mean {nfe.mean:.1f} (p50 {nfe.p50:g}, p95 {nfe.p95:g})"
    )


def train(args: argparse.Namespace) -> int:
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k not in _NOT_CONFIG})
    manifest = train_and_publish(config, ModelStore(args.store), _progress_console(args))
    print(summary(manifest))
    return 0


def demo(args: argparse.Namespace) -> int:
    for manifest in build_demo(ModelStore(args.store), args.force, args.only or (), _progress_console(args)):
        print(summary(manifest))
    return 0


def _row(store: ModelStore, name: str, version: int, aliases: dict[str, int]) -> list[str]:
    manifest = store.manifest(name, version)
    record = manifest.training
    accuracy = f"{record.metrics['test'].accuracy:.4f}" if record and "test" in record.metrics else "-"
    nfe = f"{record.nfe.mean:.1f}" if record else "-"
    pointing = ", ".join(sorted(alias for alias, v in aliases.items() if v == version))
    return [
        name,
        str(version),
        pointing,
        manifest.family,
        accuracy,
        nfe,
        manifest.created_at.strftime("%Y-%m-%d"),
    ]


def list_models(args: argparse.Namespace) -> int:
    store = ModelStore(args.store)
    table = Table(title=f"models in {store.root}")
    for column in ("model", "version", "aliases", "family", "test acc", "NFE mean", "created"):
        table.add_column(column, no_wrap=column == "model")
    for name in store.list_models():
        aliases = store.aliases(name)
        for version in store.versions(name):
            table.add_row(*_row(store, name, version, aliases))
    Console(width=120).print(table)
    return 0


def show(args: argparse.Namespace) -> int:
    print(ModelStore(args.store).manifest(args.name, args.version).model_dump_json(indent=2))
    return 0


def alias(args: argparse.Namespace) -> int:
    version = ModelStore(args.store).set_alias(args.name, args.alias, args.version)
    print(f"{args.name}: {args.alias} -> {version}")
    return 0


def verify_version(store: ModelStore, name: str, version: int) -> Manifest:
    """sha256 of every file, then the weights parse and fit the architecture and golden.json parses."""
    try:
        manifest = store.verify(name, version)
        folder = store.version_dir(name, version)
        load_network(folder, manifest)
        load_golden(folder)
    except IntegrityError as exc:
        raise IntegrityError(f"{name}/{version}: {exc}", exc.filename) from exc
    return manifest


def verify(args: argparse.Namespace) -> int:
    """Leftovers of publishes that died are reported (on stderr) but fail nothing: the versions are
    intact and the next publish removes them. A model with no complete version fails."""
    store = ModelStore(args.store)
    leftovers = ", ".join(p.name for p in store.leftovers(args.name))
    note = f"publishes that died left {leftovers} (the next publish removes them)" if leftovers else ""
    if not store.versions(args.name):
        raise VersionNotFound(f"model {args.name!r} has no complete version" + (f"; {note}" if note else ""))
    versions = store.versions(args.name) if args.all else [store.resolve(args.name, args.version)]
    for version in versions:
        verify_version(store, args.name, version)
        print(f"ok {args.name}/{version}")
    if note:
        print(f"warning: {args.name}: {note}", file=sys.stderr)
    return 0


def report(args: argparse.Namespace) -> int:
    folder = build_report(ModelStore(args.store), args.name, args.version, args.out)
    print(f"report of {args.name} {args.version} written to {folder}")
    return 0
