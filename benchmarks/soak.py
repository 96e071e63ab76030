"""Soak: a steady load for a while; zero errors, p99, and how much the server's memory grew.

    .venv/bin/python -m benchmarks.soak                      # 60 s at 64 connections (the default)
    .venv/bin/python -m benchmarks.soak --duration 600 --connections 128 --model circles-anode

Exits 1 when a request failed or was not answered 200, or when the server's RSS grew by 10 % or more
between the end of the warm-up and the end of the run. Not part of the test suite (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .loadgen import request_bytes, rss_bytes, run_load
from .servers import HOST, ServerSpec, running

MAX_RSS_GROWTH = 0.10


def odeserve_spec(env: dict[str, str], model: str) -> ServerSpec:
    import sys

    argv = (
        sys.executable,
        "-m",
        "service",
        "--port",
        "{port}",
        "--poll-interval",
        "0",
        "--log-level",
        "warning",
    )
    return ServerSpec("odeserve", argv, "/readyz", f"/v1/models/{model}/predict", env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load before measuring (default 5)"
    )
    parser.add_argument("--model", default="moons-node")
    parser.add_argument("--body", default='{"inputs": [[0.5, -0.2]]}')
    args = parser.parse_args(argv)
    spec = odeserve_spec({"ODESERVE_TORCH_THREADS": "1"}, args.model)
    with tempfile.TemporaryDirectory() as logs, running(spec, Path(logs)) as server:
        payload = request_bytes(spec.predict_path, args.body.encode())
        run_load(HOST, server.port, payload, connections=args.connections, duration_s=args.warmup)
        rss_start = rss_bytes(server.pid)
        started = time.monotonic()
        result = run_load(HOST, server.port, payload, connections=args.connections, duration_s=args.duration)
        rss_end = rss_bytes(server.pid)
    report: dict[str, Any] = {
        "connections": args.connections,
        **result.summary(),
        "rss_mib_start": round(rss_start / 2**20, 1),
        "rss_mib_end": round(rss_end / 2**20, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 2),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=2))
    bad = report["errors"] or set(report["by_status"]) - {"200"}
    return 1 if bad or rss_end - rss_start >= MAX_RSS_GROWTH * rss_start else 0


if __name__ == "__main__":
    raise SystemExit(main())
