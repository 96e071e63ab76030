"""``python -m deploy.fleet``: start a local fleet, keep it running, stop it on Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .fleet import Fleet, FleetSpec
from .process import ProcessExited
from .replica import ReplicaOptions

log = logging.getLogger("deploy.fleet")

_EPILOG = """\
Every replica is `python -m service` on 127.0.0.1, serving the same store, one process each (no
shared state); haproxy balances them (least connections), sends work only to replicas whose /readyz
answers 200, and retries a request on another replica when one dies. A replica that exits by itself
is started again. Signals: Ctrl-C or SIGTERM stops everything; SIGHUP restarts the replicas one at a
time (each drains first), without a failed request. Other ODESERVE_* variables reach every replica.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.fleet",
        description="N odeserve replicas behind HAProxy on 127.0.0.1 (and Prometheus, if asked).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--replicas", type=int, default=3, help="replica processes (default 3)")
    parser.add_argument("--port", type=int, default=8000, help="the load balancer's port (default 8000)")
    parser.add_argument(
        "--replica-port", type=int, help="port of the first replica, the others follow (default PORT + 1)"
    )
    parser.add_argument("--store", type=Path, help="model store root (default: the shipped demo store)")
    parser.add_argument(
        "--poll-interval", type=float, metavar="SECONDS", help="each replica's store polling (default 2)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per replica (default 1)")
    parser.add_argument(
        "--drain-grace",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="after SIGTERM a replica answers /readyz 503 this long before it closes (default 3)",
    )
    parser.add_argument(
        "--stats-port", type=int, default=8404, help="haproxy stats and metrics (default 8404)"
    )
    parser.add_argument(
        "--prometheus", action="store_true", help="also run Prometheus scraping every replica"
    )
    parser.add_argument("--prometheus-port", type=int, default=9090, help="(default 9090)")
    parser.add_argument("--workdir", type=Path, help="configs and logs (default: a new temporary folder)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="replicas'",
    )
    return parser


def spec_from(args: argparse.Namespace) -> FleetSpec:
    first = args.replica_port if args.replica_port is not None else args.port + 1
    options = ReplicaOptions(
        store=args.store,
        poll_interval_s=args.poll_interval,
        workers=args.workers,
        drain_grace_s=args.drain_grace,
        log_level=args.log_level,
    )
    return FleetSpec(
        workdir=args.workdir or Path(tempfile.mkdtemp(prefix="odeserve-fleet-")),
        replicas=args.replicas,
        port=args.port,
        replica_ports=[first + i for i in range(args.replicas)],
        stats_port=args.stats_port,
        prometheus_port=args.prometheus_port if args.prometheus else None,
        replica=options,
    )


def banner(fleet: Fleet) -> str:
    ports = ", ".join(str(r.port) for r in fleet.replicas)
    lines = [
        f"odeserve fleet: {len(fleet.replicas)} replicas behind haproxy",
        f"  API         {fleet.url}   (docs at /docs; replicas on 127.0.0.1 ports {ports})",
        f"  haproxy     {fleet.stats_url}   (per-replica state; its Prometheus metrics at /metrics)",
    ]
    if fleet.prometheus_url:
        lines.append(f"  Prometheus  {fleet.prometheus_url}   (every replica scraped; alerts at /alerts)")
    lines += [
        f"  configs and logs in {fleet.spec.workdir}",
        "Ctrl-C stops the fleet; `kill -HUP <pid>` restarts the replicas one at a time.",
    ]
    return "\n".join(lines)


class _Signals:
    """What the signal handlers ask of the supervision loop."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.rolling_restart = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGHUP, lambda sig, frame: self.rolling_restart.set())

    def _on_stop(self, sig: int, frame: FrameType | None) -> None:
        self.stop.set()


def supervise(fleet: Fleet, signals: _Signals) -> None:
    """Until asked to stop: start again whatever exited by itself; rolling restarts on SIGHUP."""
    while not signals.stop.wait(1.0):
        if signals.rolling_restart.is_set():
            signals.rolling_restart.clear()
            log.info("SIGHUP: restarting the replicas one at a time")
            try:
                fleet.rolling_restart()
                log.info("rolling restart done")
            except (ProcessExited, TimeoutError) as exc:  # what is down is started again below
                log.error("rolling restart stopped: %s", exc)
        for process in (fleet.lb, fleet.prometheus):
            if process is not None and not process.running:
                log.warning("%s exited with %s; starting it again", process.name, process.returncode)
                process.start()
        for index in fleet.crashed():
            replica = fleet.replicas[index]
            log.warning("replica %d exited with %s; starting it again", index, replica.process.returncode)
            try:
                fleet.revive(index)
            except (ProcessExited, TimeoutError) as exc:
                log.error("replica %d did not come back: %s", index, exc)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fleet: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every readiness poll
    args = build_parser().parse_args(argv)
    fleet: Fleet | None = None
    try:
        fleet = Fleet(spec_from(args))
        fleet.start()  # Ctrl-C here: KeyboardInterrupt, and the finally below stops what started
        signals = _Signals()
        signals.install()
        print(banner(fleet), flush=True)
        supervise(fleet, signals)
    except (ProcessExited, TimeoutError, RuntimeError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if fleet is not None:
            log.info("stopping the fleet")
            fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
