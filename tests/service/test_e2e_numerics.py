"""End to end over HTTP, on every served model: batch invariance, and parity with torchdiffeq.

Runs on the shipped demo store once it exists (else on the fixture store).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import torchdiffeq
from fixture_store import SERVED_MODELS, reference_probabilities

from models_store import Manifest, ModelStore, OdeClassifier, load_golden, load_network
from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED

PROBE_AT = 100
REFERENCE_ERROR = 1e-5
"""What the tight reference (dopri5 at rtol = atol = 1e-7) may itself be off by, with margin."""
TOLERANCE = {"dopri5": 1e-6, "bosh3": 1e-5}  # low-order methods: 1e-4 (tighter costs thousands of steps)
STEP_SIZE = {"euler": 0.005}  # the others: 0.01


@dataclass(frozen=True)
class Case:
    """A served model's latest version, some in-distribution inputs and their tight reference answer."""

    manifest: Manifest
    network: OdeClassifier
    golden: np.ndarray
    inputs: np.ndarray
    truth: np.ndarray


@functools.cache
def _case(store_root: Path, name: str) -> Case:
    store = ModelStore(store_root)
    folder = store.version_dir(name)
    manifest = store.verify(name)
    network = load_network(folder, manifest)
    golden = np.asarray(load_golden(folder).inputs)
    inputs = np.concatenate([golden[:16], _random_inputs(golden, 16, seed=9)])
    truth = reference_probabilities(network, inputs, tuple(manifest.interval))
    return Case(manifest, network, golden, inputs, truth)


def _random_inputs(golden: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Uniform over the box the golden (in-distribution) inputs span, per feature."""
    rng = np.random.default_rng(seed)
    return rng.uniform(golden.min(0), golden.max(0), size=(count, golden.shape[1]))


def _predict(api: httpx.Client, name: str, inputs: np.ndarray, solver: dict) -> dict:
    r = api.post(f"/v1/models/{name}/predict", json={"inputs": inputs.tolist(), "solver": solver})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("method", NATIVE_ADAPTIVE)
@pytest.mark.parametrize("name", SERVED_MODELS)
def test_an_answer_does_not_depend_on_its_batchmates(
    demo_api: httpx.Client, demo_store: Path, name: str, method: str
) -> None:
    golden = _case(demo_store, name).golden
    probe = _random_inputs(golden, 1, seed=7)
    batch = np.insert(_random_inputs(golden, 256, seed=8), PROBE_AT, probe[0], axis=0)
    solver = {"method": method, "rtol": 1e-6, "atol": 1e-6, "max_steps": 10_000}
    alone, among = _predict(demo_api, name, probe, solver), _predict(demo_api, name, batch, solver)
    assert among["batch_invariant"] and alone["batch_invariant"]
    assert among["predictions"][PROBE_AT] == alone["predictions"][0]
    np.testing.assert_allclose(among["probabilities"][PROBE_AT], alone["probabilities"][0], rtol=0, atol=1e-6)
    assert among["nfe"][PROBE_AT] == alone["nfe"][0]
    assert among["accepted_steps"][PROBE_AT] == alone["accepted_steps"][0]
    assert among["rejected_steps"][PROBE_AT] == alone["rejected_steps"][0]


def _request(method: str) -> dict:
    if method in NATIVE_ADAPTIVE:
        tol = TOLERANCE.get(method, 1e-4)
        return {"method": method, "rtol": tol, "atol": tol, "max_steps": 10_000}
    return {"method": method, "step_size": STEP_SIZE.get(method, 0.01), "max_steps": 10_000}


@pytest.mark.parametrize("method", (*NATIVE_ADAPTIVE, *NATIVE_FIXED))
@pytest.mark.parametrize("name", SERVED_MODELS)
def test_answers_agree_with_torchdiffeq(
    demo_api: httpx.Client, demo_store: Path, name: str, method: str
) -> None:
    """Against the tight torchdiffeq reference, our error is within what the requested settings allow:
    100x the tolerance, or else at most twice torchdiffeq's own error with the same method and
    settings (the engine's parity criterion), plus the reference's error. Fixed-step methods run the
    same grid as torchdiffeq, so there the two agree to rounding."""
    case = _case(demo_store, name)
    solver = _request(method)
    answer = _predict(demo_api, name, case.inputs, solver)
    ours = np.asarray(answer["probabilities"])
    error = np.abs(ours - case.truth).max()
    allowed = 100 * solver.get("rtol", 0) + REFERENCE_ERROR
    if method in NATIVE_FIXED or error > allowed:
        same = reference_probabilities(
            case.network,
            case.inputs,
            tuple(case.manifest.interval),
            method,
            solver.get("rtol", 1e-7),
            solver.get("atol", 1e-7),
            solver.get("step_size"),
        )
        allowed = max(allowed, 2 * np.abs(same - case.truth).max() + REFERENCE_ERROR)
        if method in NATIVE_FIXED:
            np.testing.assert_allclose(ours, same, rtol=0, atol=1e-9)
    assert error <= allowed
    top2 = np.sort(case.truth, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * allowed  # labels must agree wherever the margin is clear
    expected = np.asarray(case.manifest.classes)[case.truth.argmax(1)]
    assert np.asarray(answer["predictions"])[clear].tolist() == expected[clear].tolist()


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_trajectory_states_agree_with_torchdiffeq(
    demo_api: httpx.Client, demo_store: Path, name: str
) -> None:
    case = _case(demo_store, name)
    inputs, manifest = case.golden[:4], case.manifest
    times = np.linspace(*manifest.interval, 7)
    body = {"inputs": inputs.tolist(), "times": times.tolist(), "solver": {"rtol": 1e-7, "atol": 1e-7}}
    answer = demo_api.post(f"/v1/models/{name}/trajectory", json=body).json()
    net = copy.deepcopy(case.network).double()
    with torch.no_grad():
        z0 = net.initial_state(torch.as_tensor(inputs).reshape(-1, *manifest.input.shape))
        states = torchdiffeq.odeint(net.field, z0, torch.as_tensor(times), rtol=1e-9, atol=1e-9).numpy()
    assert np.asarray(answer["states"]).shape == (7, 4, manifest.architecture.state_dim)
    np.testing.assert_allclose(answer["states"], states, rtol=0, atol=1e-5)
