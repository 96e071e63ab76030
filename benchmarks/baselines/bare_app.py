"""The bare solve: uvicorn, a raw ASGI callable and odeserve's ONNX Runtime solve, nothing else.

    BENCH_STORE=models_store/demo python -m uvicorn benchmarks.baselines.bare_app:create_app --factory

No framework, no validation beyond parsing the JSON, no batching, no metrics, no logs, no errors
worded: the fastest any server can answer this predict on this machine with this solve, so the
distance between it and the floor is what the solve itself costs over HTTP, and the distance
between it and odeserve is what odeserve's service features cost. Not a server to use: a
malformed body gets a bare 500.
Environment: ``BENCH_STORE`` (default: the shipped demo store), ``BENCH_MODEL`` (default moons-node).
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import numpy as np
from starlette.types import Receive, Scope, Send

from models_store import DEFAULT_STORE_ROOT
from service.engine import ModelRunner, SampleSettings, SolverConfig
from service.http.body_limit import read_body

from ..cores import load_version

_JSON = [(b"content-type", b"application/json")]


def create_app() -> object:
    name = os.environ.get("BENCH_MODEL", "moons-node")
    version = load_version(Path(os.environ.get("BENCH_STORE", str(DEFAULT_STORE_ROOT))), name, None)
    manifest = version.manifest
    runner = ModelRunner(version.network, manifest, version.field_onnx, backend="onnxruntime")
    cfg = SolverConfig.resolve(manifest.default_solver)
    predict_path = f"/v1/models/{name}/predict"
    gc.collect()
    gc.freeze()  # as odeserve does after loading

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == predict_path:
            body = await read_body(receive)
            x = np.asarray(json.loads(body or b"")["inputs"], dtype=np.float64)
            sol, probs = runner.solve_batch(x, cfg.method, SampleSettings.uniform(cfg, len(x)))
            answer = json.dumps(
                {
                    "predictions": [manifest.classes[i] for i in probs.argmax(axis=1)],
                    "probabilities": probs.tolist(),
                    "nfe": sol.nfe.tolist(),
                }
            ).encode()
        else:
            answer = b'{"status": "ok"}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON, (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app
