"""The report's one HTML page: a summary of the manifest and the figures, self-contained.

No script, no external resource, images by relative name: the page works opened from disk and
served under the service's strict Content-Security-Policy alike. Every text taken from the
manifest (a description is the trainer's free text) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from models_store import METHODS, Manifest, SolverDefaults

from .figures import DPI, SIZES

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 small { color: #666; font-weight: normal; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { text-align: left; padding: 0.2em 1em 0.2em 0; vertical-align: top; }
th { color: #555; font-weight: normal; }
figure { margin: 2em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .note { color: #555; font-size: 0.9em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


@dataclass(frozen=True)
class Section:
    """One figure of the page: its file, a heading and a caption that says what to look for."""

    name: str
    title: str
    caption: str


def render(manifest: Manifest, sections: Sequence[Section], notes: Sequence[str]) -> bytes:
    """The page as UTF-8 bytes."""
    title = f"{manifest.name} version {manifest.version}: training report"
    body = [
        f"<h1>{escape(manifest.name)} <small>version {manifest.version}</small></h1>",
        f"<p>{escape(manifest.description)}</p>" if manifest.description else "",
        _summary(manifest),
        *(f'<p class="note">{escape(note)}</p>' for note in notes),
        *(_figure(section) for section in sections),
        f'<p class="note">Rebuilt by <code>python -m training report {escape(manifest.name)} '
        f"{manifest.version}</code>.</p>",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
    return page.encode()


def _figure(section: Section) -> str:
    width, height = (round(inches * DPI) for inches in SIZES[section.name])
    title = escape(section.title)
    return (
        f"<figure>\n<h2>{title}</h2>\n"
        f'<img src="{escape(section.name)}" width="{width}" height="{height}" alt="{title}">\n'
        f"<figcaption>{escape(section.caption)}</figcaption>\n</figure>"
    )


def _summary(manifest: Manifest) -> str:
    rows = [
        ("family", f"{manifest.family.upper()}, state dimension {manifest.architecture.state_dim}"),
        ("input", f"{manifest.input.shape}, classes {', '.join(manifest.classes)}"),
        ("serving solver", _solver(manifest.default_solver)),
        ("created", manifest.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    record = manifest.training
    if record is not None:
        scores = ", ".join(f"{split} {m.accuracy:.4f}" for split, m in record.metrics.items())
        rows += [
            ("data", f"{record.dataset}{_params(record.dataset_params)}, seed {record.seed}"),
            ("training", f"{record.epochs} epochs, batch {record.batch_size}, lr {record.learning_rate:g}"),
            ("training solver", _solver(record.solver)),
            ("accuracy", scores),
            (
                "NFE per test sample",
                f"mean {record.nfe.mean:.1f}, p50 {record.nfe.p50:g}, p95 {record.nfe.p95:g}",
            ),
        ]
    cells = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>\n{cells}\n</table>"


def _solver(solver: SolverDefaults) -> str:
    if METHODS[solver.method].adaptive:
        return f"{solver.method}, rtol {solver.rtol:g}, atol {solver.atol:g}"
    return f"{solver.method}, step size {solver.step_size:g}"


def _params(params: dict[str, float | int | str | bool | None]) -> str:
    return " (" + ", ".join(f"{k} {v}" for k, v in params.items()) + ")" if params else ""
