"""``python -m service``: serve the model store under uvicorn (``--help`` lists the options)."""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError
from uvicorn.config import LOGGING_CONFIG

from .metrics import prepare_multiprocess_dir
from .settings import Settings

_EPILOG = """\
Every setting can also come from an environment variable ODESERVE_<NAME> (options win), e.g.
ODESERVE_API_KEY (inference key), ODESERVE_ADMIN_API_KEY (enables POST /v1/admin/reload),
ODESERVE_MAX_INPUTS, ODESERVE_MAX_TIME_POINTS, ODESERVE_MAX_STEPS_CAP, ODESERVE_MIN_TOLERANCE,
ODESERVE_MAX_BODY_BYTES, ODESERVE_TORCH_THREADS. Docs: http://HOST:PORT/docs
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve Neural ODE classifiers from a model store over REST.",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument("--store", type=Path, help="model store root (default: the shipped demo store)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    parser.add_argument("--poll-interval", type=float, dest="poll_interval_s", metavar="SECONDS",
                        help="seconds between store polls; 0 disables polling (default 2)")
    parser.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"],
                        help="default info")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    given = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    if "store" in given:
        given["store"] = given["store"].resolve()
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        parser.error(str(exc))
    # Worker processes build their own Settings from the environment: hand them the options too.
    for key, value in given.items():
        os.environ[f"ODESERVE_{key.upper()}"] = str(value)
    prepare_multiprocess_dir(None, settings.workers)
    uvicorn.run("service.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level,
                log_config=log_config(settings.log_level), timeout_graceful_shutdown=30)


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup, plus the service's own loggers on the same handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["service"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


if __name__ == "__main__":
    main()
