"""benchmarks.http_bench: the servers it starts and the bodies it sends (no load here)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from benchmarks import http_bench, wrk
from benchmarks.cores import load_version
from benchmarks.servers import running
from models_store import DEFAULT_STORE_ROOT
from service.engine import ModelRunner, SolverConfig


def test_a_big_body_holds_the_points_asked_for() -> None:
    inputs = json.loads(http_bench.big_body(1024))["inputs"]
    assert len(inputs) == 1024 and all(len(p) == 2 for p in inputs)
    assert http_bench.big_body(8) == http_bench.big_body(8) != http_bench.big_body(8, seed=1)


def test_trajectory_rows_are_skipped_on_request() -> None:
    assert http_bench.build_parser().parse_args([]).trajectory
    assert not http_bench.build_parser().parse_args(["--no-trajectory"]).trajectory
    assert http_bench.trajectory_path("/v1/models/m/predict") == "/v1/models/m/trajectory"


def test_server_specs_and_passthrough() -> None:
    args = http_bench.build_parser().parse_args(
        ["--store", "/tmp/s", "--env", "ODESERVE_BACKEND=onnxruntime", "--odeserve-args", "--poll-interval 0"]
    )
    specs = http_bench.server_specs(args)
    assert [s.name for s in specs] == ["floor", "bare", "naive", "odeserve"]
    odeserve = specs[3].command(1234)
    assert odeserve[1:5] == ["-m", "service", "--port", "1234"] and odeserve[-2:] == ["--poll-interval", "0"]
    assert specs[3].env == {"ODESERVE_BACKEND": "onnxruntime"} and specs[3].ready_path == "/readyz"
    assert specs[1].env["BENCH_STORE"] == specs[2].env["BENCH_STORE"] == str(Path("/tmp/s").resolve())


def test_env_must_be_key_value() -> None:
    with pytest.raises(SystemExit):
        http_bench.parse_env(["NOVALUE"])


def test_bare_solve_answers_as_odeserve_engine(tmp_path: Path) -> None:
    """The bare baseline runs the same solve as odeserve: same label, NFE and probabilities."""
    args = http_bench.build_parser().parse_args([])
    bare = http_bench.server_specs(args)[1]
    with running(bare, tmp_path, ready_timeout_s=120) as server:
        got = httpx.post(server.url(bare.predict_path), content=wrk.BODY, timeout=30).json()
    version = load_version(DEFAULT_STORE_ROOT, "moons-node", None)
    manifest = version.manifest
    runner = ModelRunner(version.network, manifest, version.field_onnx, backend="onnxruntime")
    want = runner.predict(
        np.asarray(json.loads(wrk.BODY)["inputs"]), SolverConfig.resolve(manifest.default_solver)
    )
    assert got["predictions"] == [manifest.classes[i] for i in want.labels] and got["nfe"] == want.nfe
    np.testing.assert_allclose(got["probabilities"], want.probabilities, rtol=0, atol=1e-15)
