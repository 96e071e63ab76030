"""The framework floor: FastAPI parses the predict body and answers at once, no model.

    python -m uvicorn benchmarks.baselines.floor_app:create_app --factory --port 8001

It does everything odeserve's route does except the model work (HTTP, routing, body parsing and
validation, a JSON answer), so odeserve's figures are read as a fraction of this one's. The route
is ``async`` (no thread-pool hop), the cheapest form FastAPI has.
Environment: ``BENCH_MODEL`` (default moons-node) names the route.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from .body import PredictBody


def create_app() -> FastAPI:
    name = os.environ.get("BENCH_MODEL", "moons-node")
    app = FastAPI(title="floor: no model")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"/v1/models/{name}/predict")
    async def predict(body: PredictBody) -> dict[str, list]:
        count = len(body.inputs)
        return {"predictions": ["0"] * count, "probabilities": [[0.5, 0.5]] * count}

    return app
