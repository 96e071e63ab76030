"""The naive baseline: what a user writes by hand with FastAPI and torchdiffeq.

    BENCH_STORE=models_store/demo python -m uvicorn benchmarks.baselines.naive_app:create_app --factory

It loads the model the honest way (``models_store.load_network`` on the ``latest`` version, float32
as trained) and runs one ``torchdiffeq.odeint`` per request with the manifest's default solver
(dopri5, rtol = atol = 1e-4 for moons-node) in a sync route, FastAPI's thread pool. Torch gets one
thread, as odeserve's default ``torch_threads``: on two cores shared with the load generator more
threads only contend, so this helps the baseline rather than handicapping it.

Environment: ``BENCH_STORE`` (default: the shipped demo store), ``BENCH_MODEL`` (default moons-node).
"""

from __future__ import annotations

import os

import torch
import torchdiffeq
from fastapi import FastAPI

from models_store import DEFAULT_STORE_ROOT, ModelStore, OdeClassifier, SolverDefaults, load_network

from .body import PredictBody


def create_app() -> FastAPI:
    store = ModelStore(os.environ.get("BENCH_STORE", str(DEFAULT_STORE_ROOT)))
    name = os.environ.get("BENCH_MODEL", "moons-node")
    manifest = store.manifest(name)
    network = load_network(store.version_dir(name), manifest)
    torch.set_num_threads(1)
    t = torch.tensor(manifest.interval, dtype=torch.float32)
    app = FastAPI(title=f"naive: FastAPI + torchdiffeq ({name})")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"/v1/models/{name}/predict")
    def predict(body: PredictBody) -> dict[str, list]:
        probs = classify(network, torch.tensor(body.inputs, dtype=torch.float32), t, manifest.default_solver)
        return {
            "predictions": [manifest.classes[i] for i in probs.argmax(dim=1).tolist()],
            "probabilities": probs.tolist(),
        }

    return app


def classify(
    network: OdeClassifier, x: torch.Tensor, t: torch.Tensor, solver: SolverDefaults
) -> torch.Tensor:
    """Class probabilities: encode, one odeint over the whole batch, head, softmax."""
    with torch.no_grad():
        z = torchdiffeq.odeint(
            network.field,
            network.initial_state(x),
            t,
            method=solver.method,
            rtol=solver.rtol,
            atol=solver.atol,
        )[-1]
        return torch.softmax(network.head(z), dim=-1)
