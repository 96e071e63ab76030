"""benchmarks.wrk: the command it builds, the result line it reads, and post.lua under a real wrk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks import wrk
from benchmarks.servers import ServerSpec, running, uvicorn_argv

# What wrk 4.1 prints with --latency and post.lua (trimmed), as the parser meets it.
SAMPLE = """\
Running 10s test @ http://127.0.0.1:8000/v1/models/moons-node/predict
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    1.20ms  30.10ms   90.00%
  Latency Distribution
     50%    4.80ms
     99%   12.00ms
  26000 requests in 10.00s, 5.10MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2600.00
WRK_JSON {"requests": 26000, "duration_us": 10000000, "bytes": 5347737, "connect_errors": 0, \
"read_errors": 2, "write_errors": 0, "timeouts": 1, "status_errors": 3, "mean_us": 5012.500, \
"max_us": 30100.000, "p50_us": 4800.000, "p90_us": 6100.000, "p99_us": 12000.000}
"""


def test_parse_reads_the_json_line() -> None:
    result = wrk.parse(SAMPLE)
    assert result.requests == 26000 and result.rps == pytest.approx(2600.0)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == pytest.approx((4.8, 6.1, 12.0))
    assert result.status_errors == 3 and result.socket_errors == 3 and result.errors == 6
    assert result.as_dict()["rps"] == pytest.approx(2600.0)


def test_parse_without_a_result_line_says_so() -> None:
    with pytest.raises(wrk.WrkError, match="WRK_JSON"):
        wrk.parse("Running 10s test @ http://x\nunable to connect to 127.0.0.1:1 Connection refused\n")


def test_command_caps_threads_and_pins() -> None:
    load = wrk.LoadSettings(connections=1, duration_s=2, threads=2, timeout_s=5)
    cmd = load.command("http://h/p")
    assert "-t1" in cmd and "-c1" in cmd and "-d2s" in cmd and "--latency" in cmd and cmd[-1] == "http://h/p"
    assert cmd[cmd.index("-s") + 1] == str(wrk.SCRIPT) and Path(wrk.SCRIPT).is_file()
    if shutil.which("taskset"):
        pinned = wrk.LoadSettings(16, 1, pin_core=0).command("u")
        assert pinned[0].endswith("taskset") and pinned[1:3] == ["-c", "0"]


def test_post_lua_under_real_wrk(tmp_path: Path) -> None:
    spec = ServerSpec(
        "floor",
        uvicorn_argv("benchmarks.baselines.floor_app:create_app"),
        "/healthz",
        "/v1/models/moons-node/predict",
    )
    with running(spec, tmp_path, ready_timeout_s=60) as server:
        result = wrk.run(server.url(spec.predict_path), wrk.LoadSettings(connections=2, duration_s=1))
    assert result.requests > 0 and result.errors == 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
