"""``python -m service``: serve the model store under uvicorn (``--help`` lists the options)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypedDict

import uvicorn
from pydantic import ValidationError
from uvicorn.config import STARTUP_FAILURE

from service.lifecycle.reload_signal import prepare_reload_dir
from service.telemetry.logs import log_config
from service.telemetry.multiprocess import prepare_multiprocess_dir

from .settings import Settings

_EPILOG = """\
Every setting can also come from an environment variable ODESERVE_<NAME> (options win), e.g.
ODESERVE_API_KEY (inference key), ODESERVE_ADMIN_API_KEY (enables POST /v1/admin/reload),
ODESERVE_MAX_INPUTS, ODESERVE_MAX_TIME_POINTS, ODESERVE_MAX_STEPS_CAP, ODESERVE_MIN_TOLERANCE,
ODESERVE_MAX_BODY_BYTES, ODESERVE_MAX_QUEUE, ODESERVE_REQUEST_TIMEOUT_S, ODESERVE_DRAIN_GRACE_S,
ODESERVE_CORS_ORIGINS, ODESERVE_TORCH_THREADS. Docs: http://HOST:PORT/docs

On SIGTERM the server answers /readyz 503 for ODESERVE_DRAIN_GRACE_S seconds, then stops accepting,
finishes the requests in flight (at most ODESERVE_REQUEST_TIMEOUT_S + 5 s) and exits 0.

With --workers N > 1, POST /v1/admin/reload reaches every worker (polling on or off): it answers
once all N have re-read the store (or after 5 s more; "workers_applied" of "workers" says how many).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve Neural ODE classifiers from a model store over REST.",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument("--store", type=Path, help="model store root (default: the shipped demo store)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        dest="poll_interval_s",
        metavar="SECONDS",
        help="seconds between store polls; 0 disables polling (default 2)",
    )
    parser.add_argument(
        "--log-level", choices=["critical", "error", "warning", "info", "debug"], help="default info"
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="json: one JSON object per line, with a request id (default json)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["score"]:  # bulk scoring, no server
        from service.scoring import main as score

        sys.exit(score((sys.argv[1:] if argv is None else list(argv))[1:]))
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
    prepare_reload_dir(settings.workers)  # POST /v1/admin/reload then reaches every worker
    options: _UvicornOptions = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level, settings.log_format),
        "access_log": False,  # service.access logs every request, with its request id
        "timeout_graceful_shutdown": int(settings.shutdown_timeout_s) + 1,
    }
    if settings.workers > 1:  # uvicorn's supervisor: exits 0 after stopping its workers on SIGTERM
        uvicorn.run(APP, **options)
    else:
        serve(uvicorn.Config(APP, **options))


APP = "service.app:create_app"


class _UvicornOptions(TypedDict):
    """The keywords given to both ``uvicorn.run`` and ``uvicorn.Config``."""

    factory: bool
    host: str
    port: int
    workers: int
    log_level: str
    log_config: dict[str, Any]
    access_log: bool
    timeout_graceful_shutdown: int


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop on SIGTERM ends with exit code 0: uvicorn re-raises the
    signal once it has shut down, which would end the process as killed by SIGTERM."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:
            self._captured_signals.remove(sig)


def serve(config: uvicorn.Config) -> None:
    """One worker in this process (what ``uvicorn.run`` does for ``workers=1``)."""
    server = _Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
