"""benchmarks.solver_core on a tiny random model and tiny batches: the rows, not the speeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks import solver_core
from benchmarks.cores import Version
from models_store import (
    WEIGHTS_FILE,
    ArchitectureSpec,
    FieldSpec,
    InputSpec,
    Manifest,
    ModelStore,
    build_network,
    weights_to_bytes,
)
from service.engine import SolverConfig

SPEC = ArchitectureSpec(input_shape=[2], field=FieldSpec(hidden=[16]), num_classes=2)
QUICK = {"warmup": 0, "min_repeats": 2, "min_time_s": 0.0}


def manifest(version: int = 1, files: dict[str, str] | None = None) -> Manifest:
    return Manifest(
        name="moons-node",
        version=version,
        created_at=datetime.now(UTC),
        family="node",
        architecture=SPEC,
        input=InputSpec(shape=[2]),
        classes=["upper", "lower"],
        files=files or {},
    )


def test_measure_gives_one_sane_row_per_core_and_batch() -> None:
    torch.manual_seed(0)
    version = Version(build_network(SPEC).eval(), manifest(), field_onnx=None)
    cfg = SolverConfig("dopri5", 1e-4, 1e-4, 0.05, 1000)
    rows, skipped = solver_core.measure(version, cfg, [1, 3], timing=QUICK)
    cores = ("torchdiffeq float32", "torchdiffeq float64", "odeserve torch")
    assert [(r.core, r.batch) for r in rows] == [(core, batch) for batch in (1, 3) for core in cores]
    assert len(skipped) == 1 and "field.onnx" in skipped[0]
    for row in rows:
        assert row.median_ms > 0 and row.repeats >= 2 and row.speedup > 0 and row.nfe >= 6
        assert 0 <= row.max_prob_deviation < 1e-2 and 0 <= row.label_mismatches <= row.batch
    assert {r.nfe_per for r in rows} == {"batch", "sample"} and rows[0].speedup == 1.0
    assert [t[0].startswith("batch 1, odeserve torch") for t in solver_core.targets(rows)] == [True]


def test_main_reads_a_store_and_writes_the_result_file(tmp_path: Path) -> None:
    torch.manual_seed(1)
    files = {WEIGHTS_FILE: weights_to_bytes(build_network(SPEC))}
    ModelStore(tmp_path / "store").publish("moons-node", files, lambda v, digests: manifest(v, digests))
    out = tmp_path / "core.json"
    code = solver_core.main(
        [
            "--store",
            str(tmp_path / "store"),
            "--batches",
            "2",
            "--backends",
            "torch",
            "--min-time",
            "0",
            "--min-repeats",
            "1",
            "--warmup",
            "0",
            "--output",
            str(out),
        ]
    )
    payload = json.loads(out.read_text())
    assert code == 0 and payload["model"] == "moons-node/1" and len(payload["rows"]) == 3
    assert payload["rows"][2]["core"] == "odeserve torch" and payload["environment"]["cpus"] >= 1
