"""The rooms of the house hold their walls: who may import whom, and one name per module.

Read from the source (``ast``), not from ``sys.modules``: an import that only runs inside a
function counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "training", "models_store", "benchmarks")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved against its package)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def _sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def _importers(of: str, roots: tuple[str, ...]) -> dict[str, list[str]]:
    """Modules under ``roots`` that import ``of`` or anything inside it."""
    hits: dict[str, list[str]] = {}
    for path in _sources(*roots):
        names = sorted(m for m in _imports(path) if m == of or m.startswith(of + "."))
        if names:
            hits[str(path.relative_to(REPO))] = names
    return hits


def test_engine_is_used_only_through_its_init() -> None:
    """Outside ``service/engine/`` product code imports ``service.engine`` itself, never its modules:
    what its ``__init__`` does not list is free to change. (Tests may look inside.)"""
    private = {
        where: [
            m
            for m in names
            if m.startswith("service.engine.") and m.rpartition(".")[2] not in _engine_public_names()
        ]
        for where, names in _importers("service.engine", ("service", "benchmarks", "training")).items()
        if not where.startswith("service/engine/")
    }
    assert {k: v for k, v in private.items() if v} == {}


def _engine_public_names() -> set[str]:
    tree = ast.parse((REPO / "service/engine/__init__.py").read_text())
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


@pytest.mark.parametrize(
    ("room", "may_not_import"),
    [
        (
            "service/engine",
            (
                "service.http",
                "service.lifecycle",
                "service.scheduling",
                "service.telemetry",
                "service.routes",
                "service.oip",
                "service.schemas",
                "service.app",
                "service.errors",
                "fastapi",
                "starlette",
                "asyncio",
                "training",
            ),
        ),
        (
            "service/telemetry",
            (
                "service.http",
                "service.lifecycle",
                "service.scheduling",
                "service.routes",
                "service.app",
                "training",
            ),
        ),
        (
            "service/scheduling",
            (
                "service.http",
                "service.lifecycle.registry",
                "service.lifecycle.poller",
                "service.routes",
                "service.app",
                "training",
            ),
        ),
        (
            "service/lifecycle",
            ("service.http", "service.scheduling", "service.routes", "service.app", "training"),
        ),
        ("service/http", ("service.routes", "service.app", "training")),
        ("service", ("training",)),
        ("training", ("service",)),
        ("models_store", ("service", "training")),
    ],
)
def test_imports_run_one_way(room: str, may_not_import: tuple[str, ...]) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(
            m for m in _imports(path) if any(m == x or m.startswith(x + ".") for x in may_not_import)
        )
        for path in _sources(room)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


SAME_THING_TWICE = {"examples"}
"""Names that mean the same thing in each package: the OpenAPI example payloads of /v1 and /v2."""


def test_no_two_service_modules_share_a_name() -> None:
    """``errors.py`` meaning two things in one package tree is how a newcomer opens the wrong file."""
    names = Counter(p.stem for p in _sources("service") if p.name != "__init__.py")
    assert [name for name, count in names.items() if count > 1 and name not in SAME_THING_TWICE] == []


def test_the_service_top_level_holds_few_modules() -> None:
    """Concerns live in rooms (engine, http, lifecycle, scheduling, telemetry, routes, oip, schemas)."""
    top = sorted(p.name for p in (REPO / "service").glob("*.py"))
    assert len(top) <= 10, top


def test_the_import_reader_sees_absolute_relative_and_nested_imports() -> None:
    """The rules above are only as good as this reader: it must see every kind of import."""
    assert "service.scheduling.batcher.QueueFull" in _imports(REPO / "service/http/admission.py")
    assert "service.engine.config" in _imports(REPO / "service/engine/__init__.py")  # relative
    assert "service.app.create_app" in _imports(REPO / "service/__init__.py")  # inside a function
