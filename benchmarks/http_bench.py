"""HTTP predict under load: the no-model floor, the bare solve, a naive FastAPI + torchdiffeq
server, and odeserve; and odeserve's trajectories (``num_points`` 10, one input) against its own
predict in the same run.

    python -m benchmarks.http_bench --duration 10

Each server runs alone (started, warmed up, loaded at every connection count, stopped) as one
uvicorn worker on a free 127.0.0.1 port; wrk POSTs ``{"inputs": [[0.5, -0.2]]}``. The table gives
req/s, p50, p99 and errors, and each row's ratios to the floor and to the naive server at the same
connection count; the targets of the issue are checked at the end. The naive server and odeserve
also answer big requests (``--big-inputs`` points each, default 1024, rows ``naive-big`` and
``odeserve-big``), compared by samples per second. The bare solve (a raw ASGI
callable around the same ONNX Runtime solve, nothing else) shows how far the solve alone puts
any server from the floor. ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console

from models_store import DEFAULT_STORE_ROOT

from . import report, wrk
from .cpu import PinError
from .http_results import (
    BARE,
    BIG,
    FLOOR,
    NAIVE,
    ODESERVE,
    SERVERS,
    TRAJECTORY,
    Row,
    compare,
    render,
    targets,
)
from .servers import RunningServer, ServerError, ServerSpec, running, uvicorn_argv

TRAJECTORY_BODY = '{"inputs": [[0.5, -0.2]], "num_points": 10}'
BIG_SERVERS = (NAIVE, ODESERVE)


def big_body(inputs: int, seed: int = 0) -> str:
    """A predict body of ``inputs`` points over the moons range, the same for a given seed."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(inputs, 2))
    return json.dumps({"inputs": points.tolist()})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--duration", type=int, default=10, help="whole seconds per wrk run (default 10)")
    add("--connections", type=int, nargs="+", default=[1, 16, 64], help="default 1 16 64")
    add("--threads", type=int, default=1, help="wrk threads (default 1; capped at connections)")
    add(
        "--timeout",
        type=float,
        default=10.0,
        help="wrk's per-request timeout in seconds; slower answers count as errors (default 10)",
    )
    add("--warmup", type=int, default=2, help="whole seconds of load first; 0 skips it (default 2)")
    add("--servers", nargs="+", choices=SERVERS, default=list(SERVERS), help="default: all four")
    add("--store", type=Path, default=DEFAULT_STORE_ROOT, help="model store (default: the demo store)")
    add("--model", default="moons-node", help="model name (default moons-node)")
    add(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for odeserve, e.g. --env ODESERVE_BACKEND=onnxruntime (repeatable)",
    )
    add(
        "--odeserve-args",
        default="",
        metavar="ARGS",
        help="more options for python -m service, as one shell-quoted string: --odeserve-args='--workers 1'",
    )
    add(
        "--no-trajectory",
        dest="trajectory",
        action="store_false",
        help="skip odeserve's trajectory rows (POST .../trajectory, num_points 10, one input)",
    )
    add(
        "--big-inputs",
        type=int,
        default=1024,
        help="inputs per request of the big-batch rows of naive and odeserve (default 1024; 0 skips them)",
    )
    add("--big-connections", type=int, nargs="+", default=[1, 2], help="for the big-batch rows (default 1 2)")
    add("--pin-wrk", type=int, metavar="CORE", help="run wrk on this core only (taskset)")
    add("--pin-server", type=int, metavar="CORE", help="run each server on this core only (taskset)")
    add("--output", type=Path, help="result file (default benchmarks/results/http-<time>.json)")
    add("--check", action="store_true", help="exit with status 1 when a target is missed")
    return parser


def server_specs(args: argparse.Namespace) -> list[ServerSpec]:
    """The servers to run, in order: floor, bare, naive, odeserve (those named by --servers)."""
    store = str(args.store.resolve())
    path = f"/v1/models/{args.model}/predict"
    bench_env = {"BENCH_STORE": store, "BENCH_MODEL": args.model}
    odeserve = (
        sys.executable,
        "-m",
        "service",
        "--port",
        "{port}",
        "--store",
        store,
        "--log-level",
        "warning",
        *shlex.split(args.odeserve_args),
    )
    specs = {
        FLOOR: ServerSpec(
            FLOOR, uvicorn_argv("benchmarks.baselines.floor_app:create_app"), "/healthz", path, bench_env
        ),
        BARE: ServerSpec(
            BARE, uvicorn_argv("benchmarks.baselines.bare_app:create_app"), "/healthz", path, bench_env
        ),
        NAIVE: ServerSpec(
            NAIVE, uvicorn_argv("benchmarks.baselines.naive_app:create_app"), "/healthz", path, bench_env
        ),
        ODESERVE: ServerSpec(
            ODESERVE, odeserve, "/readyz", path, parse_env(args.env), info_path=f"/v1/models/{args.model}"
        ),
    }
    return [specs[name] for name in SERVERS if name in args.servers]


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; anything else is refused."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env takes KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


def load_settings(args: argparse.Namespace, connections: int, duration: int) -> wrk.LoadSettings:
    return wrk.LoadSettings(
        connections=connections,
        duration_s=duration,
        threads=args.threads,
        timeout_s=args.timeout,
        pin_core=args.pin_wrk,
    )


def measure(
    server: RunningServer,
    args: argparse.Namespace,
    console: Console,
    name: str | None = None,
    path: str | None = None,
    body: str = wrk.BODY,
    inputs: int = 1,
    connection_counts: Sequence[int] | None = None,
) -> list[Row]:
    """Warm ``server`` up, then one wrk run per connection count (of predict, or ``path``)."""
    url = server.url(path or server.spec.predict_path)
    name = name or server.spec.name
    counts = connection_counts or args.connections
    if args.warmup > 0:
        wrk.run(url, load_settings(args, max(counts), args.warmup), body)
    rows = []
    for connections in counts:
        time.sleep(1.0)  # let the previous run's sockets close
        result = wrk.run(url, load_settings(args, connections, args.duration), body)
        console.print(
            f"  {name:>8} c={connections:<3} {result.rps:9.1f} req/s  "
            f"p50 {result.p50_ms:8.2f} ms  p99 {result.p99_ms:8.2f} ms  errors {result.errors}"
        )
        rows.append(Row(name, connections, result, inputs))
    return rows


def trajectory_path(predict_path: str) -> str:
    return predict_path.removesuffix("/predict") + "/trajectory"


def first_answers(server: RunningServer, trajectory: bool = False) -> dict[str, Any]:
    """One predict (and trajectory) by hand before the load (a wrong route or a failing model stops
    the run here), and the server's description of the model when it has one (odeserve: version,
    status)."""
    calls = {"predict": (server.spec.predict_path, wrk.BODY)}
    if trajectory:
        calls["trajectory"] = (trajectory_path(server.spec.predict_path), TRAJECTORY_BODY)
    answers = {}
    with httpx.Client(timeout=60) as client:
        for what, (path, body) in calls.items():
            response = client.post(
                server.url(path), content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code != 200:
                raise ServerError(
                    f"{server.spec.name} {what} answered {response.status_code}: {response.text[:500]}"
                )
            answers[what] = response.json()
        if server.spec.info_path:
            answers["info"] = client.get(server.url(server.spec.info_path)).json()
    return answers


def _loadavg(env: dict[str, Any]) -> str:
    return " ".join(f"{x:.2f}" for x in env["load_average"])


def run_all(args: argparse.Namespace, console: Console, log_dir: Path) -> tuple[list[Row], dict[str, Any]]:
    """Start, measure and stop each server in turn; returns the rows and each server's first answer."""
    rows: list[Row] = []
    answers: dict[str, Any] = {}
    for spec in server_specs(args):
        console.print(f"[bold]{spec.name}[/bold]: {shlex.join(spec.argv)}", soft_wrap=True, highlight=False)
        trajectory = args.trajectory and spec.name == ODESERVE
        with running(spec, log_dir, pin_core=args.pin_server) as server:
            answers[spec.name] = first_answers(server, trajectory)
            rows += measure(server, args, console)
            if trajectory:
                path = trajectory_path(spec.predict_path)
                rows += measure(server, args, console, TRAJECTORY, path, TRAJECTORY_BODY)
            if args.big_inputs and spec.name in BIG_SERVERS:
                rows += measure(
                    server, args, console, spec.name + BIG, None, big_body(args.big_inputs),
                    args.big_inputs, args.big_connections,
                )  # fmt: skip
    return rows, answers


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = report.console()
    env_before = report.environment()
    console.print(
        f"{wrk.version()}; {env_before['cpus']} CPUs; load average {_loadavg(env_before)}", highlight=False
    )
    with tempfile.TemporaryDirectory(prefix="odeserve-bench-") as logs:
        try:
            rows, answers = run_all(args, console, Path(logs))
        except (ServerError, wrk.WrkError, PinError) as exc:
            console.print(f"[red]benchmark aborted:[/red] {exc}")
            return 2
    compared, found = compare(rows), targets(rows)
    render(console, compared, found)
    payload = {
        "benchmark": "http",
        "environment": env_before,
        "load_average_after": report.environment()["load_average"],
        "settings": _settings(args),
        "rows": compared,
        "targets": [vars(t) for t in found],
        "first_answers": answers,
    }
    console.print(f"results: {report.write(args.output or report.default_path('http'), payload)}")
    return 1 if args.check and not all(t.passed for t in found) else 0


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "duration_s": args.duration,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "timeout_s": args.timeout,
        "warmup_s": args.warmup,
        "store": str(args.store),
        "model": args.model,
        "odeserve_env": parse_env(args.env),
        "odeserve_args": args.odeserve_args,
        "body": wrk.BODY,
        "big_inputs": args.big_inputs,
        "big_connections": args.big_connections,
        "pin_wrk": args.pin_wrk,
        "pin_server": args.pin_server,
        "wrk": wrk.version(),
    }


if __name__ == "__main__":
    sys.exit(main())
