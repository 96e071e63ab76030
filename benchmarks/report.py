"""What a run reports: the console it prints on, the facts about the machine, the result file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def console() -> Console:
    """Rich's console; 120 columns when not on a terminal, so logged tables do not wrap at 80."""
    out = Console()
    return out if out.is_terminal else Console(width=120)


def default_path(kind: str) -> Path:
    """``benchmarks/results/<kind>-<UTC timestamp>.json`` (the folder is git-ignored)."""
    return RESULTS_DIR / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


def environment() -> dict[str, Any]:
    """What a reader needs to judge the numbers: when, which commit, how busy the machine was."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
    }


def write(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent
        )
    except OSError:
        return ""
    return proc.stdout.strip()
