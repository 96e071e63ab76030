"""End to end over HTTP, on every served model: batch invariance, and parity with torchdiffeq.

Runs on the shipped demo store once it exists (else on the fixture store).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import torchdiffeq
from fixture_store import SERVED_MODELS, reference_probabilities

from models_store import Manifest, ModelStore, OdeClassifier, load_golden, load_network
from service.engine import NATIVE_ADAPTIVE, NATIVE_FIXED
from service.engine.tableaus import FIXED_TABLEAUS

PROBE_AT = 100


def _model(store_root: Path, name: str) -> tuple[Manifest, OdeClassifier, np.ndarray]:
    """Manifest, network and the golden inputs of the model's latest version."""
    store = ModelStore(store_root)
    folder = store.version_dir(name)
    manifest = store.verify(name)
    golden = np.asarray(load_golden(folder).inputs)
    return manifest, load_network(folder, manifest), golden


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
def test_an_answer_does_not_depend_on_its_batchmates(demo_api: httpx.Client, demo_store: Path, name: str,
                                                     method: str) -> None:
    _, _, golden = _model(demo_store, name)
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


ADAPTIVE_TOL = 1e-6
FIXED_STEP = {"euler": 1e-3}  # others: 0.01


def _allowed(method: str) -> tuple[dict, float]:
    """The request, and how far from the tight reference its answer may be (from its tolerance or h^order)."""
    if method in NATIVE_ADAPTIVE:
        tol = ADAPTIVE_TOL
        return {"method": method, "rtol": tol, "atol": tol, "max_steps": 10_000}, 100 * tol
    h = FIXED_STEP.get(method, 0.01)
    error = 10 * h ** FIXED_TABLEAUS[method].order
    return {"method": method, "step_size": h, "max_steps": 10_000}, max(1e-6, error)


@pytest.mark.parametrize("method", (*NATIVE_ADAPTIVE, *NATIVE_FIXED))
@pytest.mark.parametrize("name", SERVED_MODELS)
def test_answers_agree_with_torchdiffeq(demo_api: httpx.Client, demo_store: Path, name: str,
                                        method: str) -> None:
    manifest, network, golden = _model(demo_store, name)
    inputs = np.concatenate([golden, _random_inputs(golden, 16, seed=9)])
    solver, allowed = _allowed(method)
    answer = _predict(demo_api, name, inputs, solver)
    reference = reference_probabilities(network, inputs, tuple(manifest.interval))
    probs = np.asarray(answer["probabilities"])
    np.testing.assert_allclose(probs, reference, rtol=0, atol=allowed)
    top2 = np.sort(reference, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * allowed  # labels must agree wherever the margin is clear
    labels = [manifest.classes[i] for i in reference.argmax(1)]
    got = np.asarray(answer["predictions"])[clear]
    assert got.tolist() == np.asarray(labels)[clear].tolist()


@pytest.mark.parametrize("name", SERVED_MODELS)
def test_trajectory_states_agree_with_torchdiffeq(demo_api: httpx.Client, demo_store: Path,
                                                  name: str) -> None:
    manifest, network, golden = _model(demo_store, name)
    inputs = golden[:4]
    times = np.linspace(*manifest.interval, 7)
    body = {"inputs": inputs.tolist(), "times": times.tolist(), "solver": {"rtol": 1e-7, "atol": 1e-7}}
    answer = demo_api.post(f"/v1/models/{name}/trajectory", json=body).json()
    net = network.double()
    with torch.no_grad():
        z0 = net.initial_state(torch.as_tensor(inputs).reshape(-1, *manifest.input.shape))
        states = torchdiffeq.odeint(net.field, z0, torch.as_tensor(times), rtol=1e-9, atol=1e-9).numpy()
    assert np.asarray(answer["states"]).shape == (7, 4, manifest.architecture.state_dim)
    np.testing.assert_allclose(answer["states"], states, rtol=0, atol=1e-5)
