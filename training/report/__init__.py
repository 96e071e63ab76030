"""Training reports: PNG figures and one HTML page per stored version (``python -m training report``).

    from models_store import ModelStore
    from training.report import build_report
    build_report(ModelStore("models_store/demo"), "moons-node", "1")   # -> the report's folder

Drawn with matplotlib's object API on Agg canvases (never pyplot); see figures.py for the
figures, flow.py for the numbers behind them, page.py for the page and build.py for the choice.
"""

from .build import build_report, render
from .figures import DPI, SIZES

__all__ = ["DPI", "SIZES", "build_report", "render"]
