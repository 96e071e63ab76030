"""Example payloads shown in the OpenAPI document (one source for request and response docs)."""

from __future__ import annotations

from typing import Any

SOLVER: dict[str, Any] = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5, "max_steps": 2000}
_DEFAULT_SOLVER: dict[str, Any] = {
    "method": "dopri5",
    "rtol": 1e-4,
    "atol": 1e-4,
    "step_size": 0.05,
    "max_steps": 1000,
}
_METRICS: dict[str, Any] = {
    "train": {"accuracy": 0.995, "loss": 0.021},
    "val": {"accuracy": 0.99, "loss": 0.03},
    "test": {"accuracy": 0.992, "loss": 0.027},
}

PREDICT_REQUEST: dict[str, Any] = {"inputs": [[0.0, 0.9], [1.5, -0.3]], "solver": SOLVER}
PREDICT_DEFAULTS_REQUEST: dict[str, Any] = {"inputs": [[0.5, -0.25]]}
PREDICT_FIXED_REQUEST: dict[str, Any] = {
    "inputs": [[0.5, -0.25]],
    "solver": {"method": "rk4", "step_size": 0.05},
}
PREDICT_NESTED_REQUEST: dict[str, Any] = {"inputs": [[[[0.0, 0.0, 0.3, 0.8, 0.8, 0.3, 0.0, 0.0]] * 8]]}
TRAJECTORY_REQUEST: dict[str, Any] = {"inputs": [[0.1, 0.5]], "num_points": 3}
TRAJECTORY_TIMES_REQUEST: dict[str, Any] = {
    "inputs": [[0.5, -0.25]],
    "times": [0.0, 0.25, 0.5, 1.0],
    "solver": {"method": "bosh3", "rtol": 1e-6, "atol": 1e-6},
}

PREDICT_RESPONSE: dict[str, Any] = {
    "model": "moons-node",
    "version": 1,
    "predictions": ["0", "1"],
    "probabilities": [[0.97, 0.03], [0.02, 0.98]],
    "nfe": [26, 32],
    "accepted_steps": [4, 5],
    "rejected_steps": [0, 0],
    "solver": {**SOLVER, "step_size": 0.05},
    "batch_invariant": True,
}
TRAJECTORY_RESPONSE: dict[str, Any] = {
    "model": "circles-anode",
    "version": 1,
    "times": [0.0, 0.5, 1.0],
    "states": [[[0.1, 0.5, 0.0]], [[0.12, 0.61, 0.32]], [[0.15, 0.7, 0.81]]],
    "probabilities": [[[0.55, 0.45]], [[0.8, 0.2]], [[0.96, 0.04]]],
    "predictions": ["1"],
    "final_probabilities": [[0.96, 0.04]],
    "nfe": [26],
    "accepted_steps": [4],
    "rejected_steps": [0],
    "solver": _DEFAULT_SOLVER,
    "batch_invariant": True,
}
GRID_REQUEST: dict[str, Any] = {"bounds": [[-1.5, 2.5], [-1.0, 1.5]], "resolution": [3, 2]}
GRID_SOLVER_REQUEST: dict[str, Any] = {
    "bounds": [[-1.5, 2.5], [-1.0, 1.5]],
    "resolution": [64, 48],
    "solver": {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6},
}
GRID_RESPONSE: dict[str, Any] = {
    "model": "moons-node",
    "version": 1,
    "solver": _DEFAULT_SOLVER,
    "classes": ["0", "1"],
    "xs": [-1.5, 0.5, 2.5],
    "ys": [-1.0, 1.5],
    "probabilities": [
        [[0.08, 0.92], [0.03, 0.97], [0.11, 0.89]],
        [[0.99, 0.01], [0.97, 0.03], [0.6, 0.4]],
    ],
    "labels": [[1, 1, 1], [0, 0, 0]],
    "nfe": [[32, 26, 38], [26, 26, 32]],
    "batch_invariant": True,
}
VECTOR_FIELD_REQUEST: dict[str, Any] = {
    "t": 0.5,
    "bounds": [[-1.5, 1.5], [-1.5, 1.5]],
    "resolution": [3, 2],
}
VECTOR_FIELD_AUGMENTED_REQUEST: dict[str, Any] = {
    "t": 0.0,
    "dims": [0, 2],
    "bounds": [[-1.5, 1.5], [-1.0, 1.0]],
    "resolution": [16, 16],
    "point": [0.0, 0.25, 0.0],
}
VECTOR_FIELD_RESPONSE: dict[str, Any] = {
    "model": "circles-anode",
    "version": 1,
    "t": 0.5,
    "dims": [0, 1],
    "state_dim": 3,
    "input_dim": 2,
    "augment_dim": 1,
    "point": [0.0, 0.0, 0.0],
    "xs": [-1.5, 0.0, 1.5],
    "ys": [-1.5, 1.5],
    "u": [[0.61, 0.12, -0.4], [0.55, 0.08, -0.47]],
    "v": [[0.3, 0.71, 0.2], [-0.35, -0.62, -0.28]],
}
DATASET_RESPONSE: dict[str, Any] = {
    "model": "moons-node",
    "version": 1,
    "dataset": "moons",
    "split": "test",
    "total": 150,
    "classes": ["0", "1"],
    "features": [[0.93, 0.41], [1.62, -0.37], [-0.71, 0.75]],
    "labels": [0, 1, 0],
}
_INPUT = {"shape": [2], "dtype": "float32", "feature_names": ["x", "y"]}
_MANIFEST_SUMMARY: dict[str, Any] = {
    "family": "node",
    "created_at": "2025-01-01T12:00:00Z",
    "description": "two moons, Neural ODE",
    "input": _INPUT,
    "classes": ["0", "1"],
    "augment_dim": 0,
    "state_dim": 2,
    "interval": [0.0, 1.0],
    "default_solver": _DEFAULT_SOLVER,
    "training": {
        "dataset": "moons",
        "epochs": 40,
        "metrics": _METRICS,
        "nfe": {"mean": 26.0, "p50": 26.0, "p95": 32.0},
    },
}
MODEL_LIST: dict[str, Any] = {
    "models": [
        {
            "name": "moons-node",
            "latest_version": 2,
            "aliases": {"latest": 2, "stable": 1},
            "versions": [1, 2],
            "loaded_versions": [1, 2],
            "family": "node",
            "input_shape": [2],
            "classes": ["0", "1"],
            "description": "two moons, Neural ODE",
        }
    ]
}
_EXPLORER_FACTS: dict[str, Any] = {
    "input_shape": [2],
    "state_dim": 2,
    "augment_dim": 0,
    "interval": [0.0, 1.0],
    "classes": ["0", "1"],
}
MODEL_DETAIL: dict[str, Any] = {
    "name": "moons-node",
    "latest_version": 2,
    "aliases": {"latest": 2, "stable": 1},
    "versions": [
        {
            "version": 1,
            "status": "loaded",
            "reason": None,
            "aliases": ["stable"],
            "created_at": "2025-01-01T12:00:00Z",
            "metrics": _METRICS,
            **_EXPLORER_FACTS,
            "report": "/ui/models/moons-node/versions/1/report/",
        },
        {
            "version": 2,
            "status": "failed",
            "reason": "weights.safetensors does not match its sha256",
            "aliases": ["latest"],
            "created_at": "2025-01-02T12:00:00Z",
            "metrics": _METRICS,
            **_EXPLORER_FACTS,
            "report": None,
        },
    ],
    "latest": _MANIFEST_SUMMARY,
}
VERSION_DETAIL: dict[str, Any] = {
    "name": "moons-node",
    "version": 1,
    "status": "loaded",
    "reason": None,
    "aliases": ["stable"],
    "manifest": _MANIFEST_SUMMARY,
    "golden_nfe_baseline": {"nfe_mean": 27.5, "samples": 16, "solver": _DEFAULT_SOLVER},
    "backend": "onnxruntime",
    "backend_note": None,
    "files": {"weights.safetensors": "9f2c" + "0" * 60, "golden.json": "41aa" + "0" * 60},
}
RELOAD_REPORT: dict[str, Any] = {
    "loaded": ["moons-node/3"],
    "failed": [],
    "removed": [],
    "aliases_changed": ["moons-node"],
    "loaded_versions": 5,
    "failed_versions": 0,
    "duration_s": 0.41,
    "workers": 4,
    "workers_applied": 4,
}
READINESS: dict[str, Any] = {"status": "ready", "loaded_versions": 4, "failed_versions": 0, "draining": False}
ERROR: dict[str, Any] = {
    "error": {
        "type": "model_not_found",
        "message": "model 'moons' not found; known models: moons-node, circles-anode",
        "details": None,
    }
}
VALIDATION_ERROR: dict[str, Any] = {
    "error": {
        "type": "validation_error",
        "message": "the request does not fit the schema (1 error)",
        "details": [
            {
                "type": "finite_number",
                "loc": ["body", "inputs", 0, "flat", 1],
                "msg": "Input should be a finite number",
                "input": "nan",
            }
        ],
    }
}
