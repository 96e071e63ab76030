"""Overload goodput: 200 answers per second under a storm, as a share of the same run's capacity.

    .venv/bin/python -m benchmarks.overload                        # direct, behind haproxy, scaling
    .venv/bin/python -m benchmarks.overload --through direct --duration 8

For each target (one replica on its own; the same behind haproxy), wrk first measures capacity:
200 answers per second at a few connections (16), where nothing is refused; then the storm: 512
connections of clients that send the next request as soon as an answer comes (wrk ignores
Retry-After). Goodput is the storm's 200s per second over the capacity; the storm's other answers
should all be 503 + Retry-After, with no socket errors or timeouts. Last, the fleet's capacity
behind haproxy at 1, 2 and 3 replicas (on 2 cores, the cores cap the scaling). Every body holds 8
inputs (``--inputs``). Exits 1 when a storm saw socket errors or timeouts. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.fleet.fleet import FleetSpec, running_fleet
from deploy.fleet.replica import ReplicaOptions

from . import wrk
from .servers import free_port, running
from .soak import odeserve_spec


@dataclass(frozen=True)
class Phase:
    """One wrk run, summarised: 200s per second, other answers per second, errors, p99."""

    connections: int
    ok_per_s: float
    refused_per_s: float
    socket_errors: int
    p99_ms: float

    @classmethod
    def of(cls, connections: int, result: wrk.WrkResult) -> Phase:
        seconds = result.duration_s or 1.0
        ok = result.requests - result.status_errors
        return cls(connections, ok / seconds, result.status_errors / seconds, result.socket_errors,
                   result.p99_ms)  # fmt: skip


@contextmanager
def _direct(env: dict[str, str], model: str, logs: Path) -> Iterator[str]:
    spec = odeserve_spec(env, model)
    with running(spec, logs) as server:
        yield f"http://127.0.0.1:{server.port}{spec.predict_path}"


@contextmanager
def _fleet(env: dict[str, str], model: str, logs: Path, replicas: int) -> Iterator[str]:
    options = ReplicaOptions(poll_interval_s=0, log_level="warning", drain_grace_s=0, env=env)
    ports = [free_port() for _ in range(replicas + 2)]
    spec = FleetSpec(workdir=logs / f"fleet-{replicas}", replicas=replicas, port=ports[0],
                     stats_port=ports[1], replica_ports=ports[2:], replica=options)  # fmt: skip
    with running_fleet(spec) as fleet:
        yield f"{fleet.url}/v1/models/{model}/predict"


def _load(url: str, connections: int, duration_s: int, body: str) -> Phase:
    settings = wrk.LoadSettings(connections=connections, duration_s=duration_s, threads=2, timeout_s=10)
    return Phase.of(connections, wrk.run(url, settings, body))


def _overload(url: str, args: argparse.Namespace, body: str) -> dict[str, Any]:
    _load(url, args.capacity_connections, 2, body)  # warm up: sessions, caches, batch sizes
    capacity = _load(url, args.capacity_connections, args.duration, body)
    storm = _load(url, args.connections, args.duration, body)
    return {
        "capacity": capacity.__dict__,
        "storm": storm.__dict__,
        "goodput_share": round(storm.ok_per_s / capacity.ok_per_s, 3) if capacity.ok_per_s else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=512, help="the storm (default 512)")
    parser.add_argument("--capacity-connections", type=int, default=16, help="capacity run (default 16)")
    parser.add_argument("--max-queue", type=int, default=256, help="ODESERVE_MAX_QUEUE (default 256)")
    parser.add_argument("--inputs", type=int, default=8, help="inputs per request (default 8)")
    parser.add_argument("--through", nargs="+", choices=("direct", "lb"), default=["direct", "lb"])
    parser.add_argument("--replicas", type=int, nargs="*", default=[1, 2, 3],
                        help="fleet sizes for the scaling run (default 1 2 3; none: skip)")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra server environment, e.g. ODESERVE_ADMISSION_WAIT_MS=0")  # fmt: skip
    parser.add_argument("--model", default="moons-node")
    args = parser.parse_args(argv)
    env = {"ODESERVE_TORCH_THREADS": "1", "ODESERVE_MAX_QUEUE": str(args.max_queue)}
    env.update(dict(item.split("=", 1) for item in args.env))
    body = json.dumps({"inputs": [[0.5, -0.2]] * args.inputs})
    report: dict[str, Any] = {"inputs_per_request": args.inputs, "env": env}
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        if "direct" in args.through:
            with _direct(env, args.model, logs) as url:
                report["direct"] = _overload(url, args, body)
        if "lb" in args.through:
            with _fleet(env, args.model, logs, 1) as url:
                report["lb"] = _overload(url, args, body)
        scaling = {}
        for n in args.replicas:
            with _fleet(env, args.model, logs, n) as url:
                _load(url, 64, 2, body)
                scaling[str(n)] = _load(url, 64, args.duration, body).__dict__
        if scaling:
            report["fleet_capacity_64_connections"] = scaling
    print(json.dumps(report, indent=2))
    storms = [report[k]["storm"] for k in ("direct", "lb") if k in report]
    return 0 if all(s["socket_errors"] == 0 for s in storms) else 1


if __name__ == "__main__":
    raise SystemExit(main())
