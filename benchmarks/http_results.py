"""The rows of an HTTP benchmark run: their ratios to the floor and to the naive server, the
issue's targets, and the table (``benchmarks.http_bench`` runs the servers and wrk)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from . import wrk

SERVERS = ("floor", "bare", "naive", "odeserve")
FLOOR, BARE, NAIVE, ODESERVE = SERVERS
TRAJECTORY = "odeserve-trajectory"
"""The rows of odeserve's trajectory route, measured right after its predict rows on the same server."""
BIG = "-big"
"""Suffix of the rows of requests with ``--big-inputs`` inputs each (naive and odeserve only)."""
BIG_SPEEDUP = 2.0  # the big-batch target (2x torchdiffeq f32), here over HTTP


@dataclass(frozen=True)
class Row:
    server: str
    connections: int
    result: wrk.WrkResult
    inputs: int = 1  # per request


@dataclass(frozen=True)
class Target:
    """One of the issue's HTTP targets, as measured in this run."""

    claim: str
    measured: str
    passed: bool


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def compare(rows: list[Row]) -> list[dict[str, Any]]:
    """Each row with its ratios to the floor's and the naive server's row at the same connection count."""
    by_key = {(row.server, row.connections): row.result for row in rows}
    out = []
    for row in rows:
        big = row.server.endswith(BIG)  # big-batch rows compare with the naive server's big rows
        floor = None if big else by_key.get((FLOOR, row.connections))
        naive = by_key.get((NAIVE + (BIG if big else ""), row.connections))
        res = row.result
        out.append(
            {
                "server": row.server,
                "connections": row.connections,
                "inputs_per_request": row.inputs,
                "samples_per_s": res.rps * row.inputs,
                **res.as_dict(),
                "rps_vs_floor": ratio(res.rps, floor.rps) if floor else None,
                "p50_vs_floor": ratio(res.p50_ms, floor.p50_ms) if floor else None,
                "rps_vs_naive": ratio(res.rps, naive.rps) if naive else None,
                "p50_vs_naive": ratio(res.p50_ms, naive.p50_ms) if naive else None,
            }
        )
    return out


def targets(rows: list[Row]) -> list[Target]:
    """The issue's HTTP targets that this run's connection counts let us check."""
    get = {(row.server, row.connections): row.result for row in rows}.get
    o1, o16, o64 = get((ODESERVE, 1)), get((ODESERVE, 16)), get((ODESERVE, 64))
    f1, f16, b1 = get((FLOOR, 1)), get((FLOOR, 16)), get((BARE, 1))
    t1, t16 = get((TRAJECTORY, 1)), get((TRAJECTORY, 16))
    found = []
    if o16 and f16:
        found.append(_share("16 connections: odeserve req/s >= 50% of the floor's", o16.rps, f16.rps, 0.5))
    if o1 and f1:
        bare = f" (bare solve: {b1.p50_ms / f1.p50_ms:.2f}x)" if b1 else ""
        found.append(_times("1 connection: odeserve p50 <= 2x the floor's", o1.p50_ms, f1.p50_ms, 2.0, bare))
    if o16 and o64:
        found.append(
            Target(
                "64 connections: odeserve req/s >= its req/s at 16",
                f"{o64.rps:.0f} vs {o16.rps:.0f}",
                o64.rps >= o16.rps,
            )  # fmt: skip
        )
        found.append(Target("64 connections: odeserve has zero errors", str(o64.errors), o64.errors == 0))
    if t16 and o16:
        found.append(_share("16 connections: trajectory req/s >= 50% of predict's", t16.rps, o16.rps, 0.5))
    if t1 and o1:
        found.append(_times("1 connection: trajectory p50 <= 1.5x predict's", t1.p50_ms, o1.p50_ms, 1.5))
    for connections in sorted({row.connections for row in rows if row.server == ODESERVE + BIG}):
        ours, naive = get((ODESERVE + BIG, connections)), get((NAIVE + BIG, connections))
        if ours and naive:
            found.append(
                Target(
                    f"big requests, {connections} connection(s): odeserve samples/s >= {BIG_SPEEDUP:g}x "
                    "the naive server's (torchdiffeq float32)",
                    f"{ours.rps / naive.rps:.2f}x",
                    ours.rps >= BIG_SPEEDUP * naive.rps,
                )
            )
    return found


def _share(claim: str, value: float, base: float, at_least: float) -> Target:
    """``value`` is at least ``at_least`` of ``base`` (shown as a percentage)."""
    return Target(claim, f"{value / base:.0%}", value >= at_least * base)


def _times(claim: str, value: float, base: float, at_most: float, note: str = "") -> Target:
    """``value`` is at most ``at_most`` times ``base`` (shown as a ratio)."""
    return Target(claim, f"{value / base:.2f}x{note}", value <= at_most * base)


def render(console: Console, compared: list[dict[str, Any]], found: list[Target]) -> None:
    table = Table(title="HTTP predict (and odeserve's trajectory) under wrk (one uvicorn worker each)")
    columns = (
        "server",
        "conns",
        "samples/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "rps/floor",
        "p50/floor",
        "rps/naive",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "server" else "right")
    for r in compared:
        table.add_row(
            r["server"],
            str(r["connections"]),
            f"{r['samples_per_s']:.0f}",
            f"{r['rps']:.1f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            _errors(r),
            _x(r["rps_vs_floor"]),
            _x(r["p50_vs_floor"]),
            _x(r["rps_vs_naive"]),
        )
    console.print(table)
    for target in found:
        mark = "[green]met[/green]" if target.passed else "[red]missed[/red]"
        console.print(f"{mark}  {target.claim}: {target.measured}")


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _errors(r: dict[str, Any]) -> str:
    if not r["errors"]:
        return "0"
    return f"[red]{r['errors']}[/red] ({r['status_errors']} status, {r['socket_errors']} socket)"
