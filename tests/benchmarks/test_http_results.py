"""benchmarks.http_results: the ratios of a run's rows and the target checks (made-up rows)."""

from __future__ import annotations

import pytest

from benchmarks import http_results
from benchmarks.wrk import WrkResult


def result(rps: float, p50_ms: float, errors: int = 0) -> WrkResult:
    return WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        p50_ms=p50_ms,
        p90_ms=p50_ms,
        p99_ms=2 * p50_ms,
        mean_ms=p50_ms,
        max_ms=3 * p50_ms,
        status_errors=errors,
        socket_errors=0,
    )


ROWS = [
    http_results.Row("floor", 1, result(2000, 0.5)),
    http_results.Row("floor", 16, result(3000, 5.0)),
    http_results.Row("bare", 1, result(1400, 0.7)),
    http_results.Row("naive", 1, result(70, 13.0)),
    http_results.Row("naive", 16, result(20, 800.0)),
    http_results.Row("odeserve", 1, result(1000, 0.9)),
    http_results.Row("odeserve", 16, result(1200, 13.0)),
    http_results.Row("odeserve", 64, result(1300, 50.0, errors=2)),
]


def test_compare_gives_ratios_at_the_same_connection_count() -> None:
    rows = {(r["server"], r["connections"]): r for r in http_results.compare(ROWS)}
    assert rows["odeserve", 16]["rps_vs_floor"] == pytest.approx(0.4)
    assert rows["odeserve", 1]["p50_vs_floor"] == pytest.approx(1.8)
    assert rows["odeserve", 16]["rps_vs_naive"] == pytest.approx(60.0)
    assert rows["odeserve", 64]["rps_vs_floor"] is None and rows["odeserve", 64]["errors"] == 2


def test_targets() -> None:
    found = http_results.targets(ROWS)  # 16: 40% of the floor; 1: 1.8x its p50; 64 >= 16; 64 has errors
    assert [t.passed for t in found] == [False, True, True, False]
    assert [t.claim[:3] for t in found] == ["16 ", "1 c", "64 ", "64 "]
    assert (
        found[1].measured == "1.80x (bare solve: 1.40x)"
    )  # the bare solve gives the 1-connection figure context


@pytest.mark.parametrize(
    "t1_p50, t16_rps, passed",
    [(1.2, 700, [True, True]), (1.5, 500, [False, False]), (1.3, 600, [True, True])],
)
def test_trajectory_targets_compare_with_predict_in_the_same_run(
    t1_p50: float, t16_rps: float, passed: list[bool]
) -> None:
    """Trajectory rows are judged against odeserve's predict rows: 50% of its req/s at 16
    connections, at most 1.5x its p50 at one (predict here: 1200 req/s, p50 0.9 ms)."""
    rows = [
        *ROWS,
        http_results.Row(http_results.TRAJECTORY, 1, result(800, t1_p50)),
        http_results.Row(http_results.TRAJECTORY, 16, result(t16_rps, 20.0)),
    ]
    found = {t.claim: t for t in http_results.targets(rows)}
    share = found["16 connections: trajectory req/s >= 50% of predict's"]
    latency = found["1 connection: trajectory p50 <= 1.5x predict's"]
    assert [share.passed, latency.passed] == passed
    assert share.measured == f"{t16_rps / 1200:.0%}" and latency.measured == f"{t1_p50 / 0.9:.2f}x"


@pytest.mark.parametrize(("ours_rps", "passed"), [(90.0, True), (70.0, False)])
def test_big_rows_compare_samples_with_the_naive_servers_big_rows(ours_rps: float, passed: bool) -> None:
    """Big requests (1024 inputs) are judged by samples/s against the naive server's big requests
    at the same connection count, never against one-input rows."""
    rows = [
        *ROWS,
        http_results.Row("naive-big", 1, result(40, 24.0), 1024),
        http_results.Row("odeserve-big", 1, result(ours_rps, 11.0), 1024),
    ]
    compared = {(r["server"], r["connections"]): r for r in http_results.compare(rows)}
    big = compared["odeserve-big", 1]
    assert big["samples_per_s"] == pytest.approx(ours_rps * 1024)
    assert big["rps_vs_naive"] == pytest.approx(ours_rps / 40) and big["rps_vs_floor"] is None
    assert compared["odeserve", 1]["samples_per_s"] == pytest.approx(1000)
    found = [t for t in http_results.targets(rows) if t.claim.startswith("big")]
    assert [(t.measured, t.passed) for t in found] == [(f"{ours_rps / 40:.2f}x", passed)]
