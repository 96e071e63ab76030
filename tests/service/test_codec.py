"""Decoding requests against a model and the server's limits (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models_store import ArchitectureSpec, InputSpec, Manifest, SolverDefaults
from service.codec import check_trajectory_size, decode_inputs, decode_solver, decode_times
from service.errors import InputShapeError, InvalidRequest, LimitExceeded, RequestValidationFailed
from service.schemas import SolverRequest, TrajectoryRequest
from service.settings import Settings

LIMITS = Settings(max_inputs=4, max_time_points=5, max_steps_cap=500, max_trajectory_values=1000)


def _manifest(shape: list[int], max_steps: int = 1000) -> Manifest:
    return Manifest(
        name="m",
        version=1,
        created_at=datetime.now(UTC),
        family="node",
        architecture=ArchitectureSpec(input_shape=shape, num_classes=2),
        input=InputSpec(shape=shape),
        classes=["a", "b"],
        interval=(0.0, 2.0),
        default_solver=SolverDefaults(max_steps=max_steps),
        files={},
    )


IMAGE = _manifest([1, 2, 2])


@pytest.mark.parametrize(
    "samples",
    [
        [[1, 2, 3, 4]],
        [[[[1, 2], [3, 4]]]],
        [[1, 2, 3, 4], [[[1, 2], [3, 4]]]],
    ],
)
def test_samples_may_be_flat_nested_or_mixed(samples: list) -> None:
    batch = decode_inputs(samples, IMAGE, LIMITS)
    assert batch.shape == (len(samples), 1, 2, 2) and batch.dtype == np.float64
    assert (batch[-1].ravel() == [1, 2, 3, 4]).all()


@pytest.mark.parametrize(
    "samples, got",
    [
        ([[1, 2, 3]], "shape [3]"),
        ([[[1, 2], [3, 4]]], "shape [2, 2]"),
        ([[[[1, 2], [3]]]], "ragged"),
    ],
)
def test_wrong_shapes_name_the_expected_one(samples: list, got: str) -> None:
    expected = r"expects 4 numbers per sample, flat or nested as \[1, 2, 2\]"
    with pytest.raises(InputShapeError, match=expected) as exc:
        decode_inputs(samples, IMAGE, LIMITS)
    assert got in exc.value.message


def test_too_many_inputs() -> None:
    with pytest.raises(LimitExceeded):
        decode_inputs([[1, 2, 3, 4]] * 5, IMAGE, LIMITS)


def test_solver_defaults_overrides_and_caps() -> None:
    assert decode_solver(None, _manifest([2], max_steps=9000), LIMITS).max_steps == 500  # default capped
    cfg = decode_solver(SolverRequest(method="rk4", step_size=0.1), _manifest([2]), LIMITS)
    assert (cfg.method, cfg.step_size, cfg.rtol) == ("rk4", 0.1, 1e-4)
    with pytest.raises(RequestValidationFailed) as exc:
        decode_solver(SolverRequest(rtol=1e-12, atol=0.9, max_steps=501), _manifest([2]), LIMITS)
    assert [d["loc"][-1] for d in exc.value.details] == ["rtol", "atol", "max_steps"]


def test_times_default_points_and_checks() -> None:
    manifest = _manifest([2])
    points = decode_times(TrajectoryRequest(inputs=[[0, 0]], num_points=3), manifest, LIMITS)
    assert points.tolist() == [0, 1, 2]
    with pytest.raises(LimitExceeded):
        decode_times(TrajectoryRequest(inputs=[[0, 0]]), manifest, LIMITS)  # default 20 > 5
    with pytest.raises(InvalidRequest, match=r"interval \[0, 2\]"):
        decode_times(TrajectoryRequest(inputs=[[0, 0]], times=[1.0, 2.5]), manifest, LIMITS)
    with pytest.raises(InvalidRequest, match="strictly increasing"):
        decode_times(TrajectoryRequest(inputs=[[0, 0]], times=[1.0, 1.0]), manifest, LIMITS)


def test_trajectory_size_bound() -> None:
    manifest = _manifest([2])  # 2 state dims + 2 classes = 4 numbers per point
    check_trajectory_size(np.zeros((50, 2)), np.zeros(5), manifest, LIMITS)
    with pytest.raises(LimitExceeded):
        check_trajectory_size(np.zeros((51, 2)), np.zeros(5), manifest, LIMITS)
