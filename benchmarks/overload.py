"""Overload: far more connections than the server can serve, with a small queue.

    .venv/bin/python -m benchmarks.overload                  # 512 connections, 20 s, ODESERVE_MAX_QUEUE=32

Every answer must be 200 or 503 (with Retry-After), none may time out or be reset, and 503s must come
back fast (their p99 is reported). Exits 1 otherwise. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .loadgen import request_bytes, run_load
from .servers import HOST, running
from .soak import odeserve_spec


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--connections", type=int, default=512, help="keep-alive connections (default 512)")
    parser.add_argument("--max-queue", type=int, default=32, help="ODESERVE_MAX_QUEUE (default 32)")
    parser.add_argument("--inputs", type=int, default=8, help="inputs per request (default 8)")
    parser.add_argument("--model", default="moons-node")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="client timeout per request (default 30 s)"
    )
    args = parser.parse_args(argv)
    env = {"ODESERVE_TORCH_THREADS": "1", "ODESERVE_MAX_QUEUE": str(args.max_queue)}
    spec = odeserve_spec(env, args.model)
    body = json.dumps({"inputs": [[0.5, -0.2]] * args.inputs}).encode()
    with tempfile.TemporaryDirectory() as logs, running(spec, Path(logs)) as server:
        result = run_load(
            HOST,
            server.port,
            request_bytes(spec.predict_path, body),
            connections=args.connections,
            duration_s=args.duration,
            timeout_s=args.timeout,
        )
    report: dict[str, Any] = {
        "connections": args.connections,
        "max_queue": args.max_queue,
        "inputs_per_request": args.inputs,
        **result.summary(),
    }
    print(json.dumps(report, indent=2))
    statuses = set(report["by_status"])
    ok = not report["errors"] and statuses <= {"200", "503"} and "200" in statuses
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
