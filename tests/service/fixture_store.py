"""A small model store built through models_store's API: random tiny networks with honest goldens.

The goldens are solved with torchdiffeq (dopri5, rtol = atol = 1e-7, float64), as training does,
so the service's self-test passes; ``bad_golden`` publishes one whose answers were tampered with.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torchdiffeq

from models_store import (
    DEFAULT_STORE_ROOT,
    GOLDEN_FILE,
    WEIGHTS_FILE,
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    Golden,
    InputSpec,
    Manifest,
    ModelStore,
    NfeStats,
    OdeClassifier,
    SolverDefaults,
    SplitMetrics,
    TrainingRecord,
    build_network,
    weights_to_bytes,
)

DEMO_MODELS = ("moons-node", "circles-node", "circles-anode", "digits-anode")
DEMO_READY = set(DEMO_MODELS) <= set(ModelStore(DEFAULT_STORE_ROOT).list_models())
SERVED_MODELS = DEMO_MODELS if DEMO_READY else ("moons-node", "circles-anode", "digits-anode")
"""The models the end-to-end numerics tests run on: the shipped demo store's once it exists."""

GOLDEN_SOLVER = SolverDefaults(method="dopri5", rtol=1e-7, atol=1e-7)
FIELD = FieldSpec(hidden=[16])
SPECS: dict[str, tuple[ArchitectureSpec, list[str]]] = {
    "moons-node": (ArchitectureSpec(input_shape=[2], field=FIELD, num_classes=2), ["upper", "lower"]),
    "circles-anode": (
        ArchitectureSpec(input_shape=[2], augment_dim=1, field=FIELD, num_classes=2),
        ["inner", "outer"],
    ),
    "digits-anode": (
        ArchitectureSpec(
            input_shape=[1, 8, 8],
            augment_dim=2,
            field=FIELD,
            num_classes=10,
            encoder=ConvEncoderSpec(channels=[4], latent_dim=6),
        ),
        [str(d) for d in range(10)],
    ),
}


def reference_probabilities(
    network: OdeClassifier,
    inputs: np.ndarray,
    interval: tuple[float, float],
    method: str = "dopri5",
    rtol: float = 1e-7,
    atol: float = 1e-7,
    step_size: float | None = None,
) -> np.ndarray:
    """Class probabilities solved by torchdiffeq in float64 (by default the tight parity reference)."""
    net = copy.deepcopy(network).double().eval()
    options = {} if step_size is None else {"step_size": step_size}
    with torch.no_grad():
        x = torch.as_tensor(inputs, dtype=torch.float64).reshape(-1, *net.spec.input_shape)
        z0 = net.initial_state(x)
        t = torch.tensor(interval, dtype=torch.float64)
        zt = torchdiffeq.odeint(net.field, z0, t, method=method, rtol=rtol, atol=atol, options=options)[-1]
        return torch.softmax(net.head(zt), dim=-1).numpy()


def sample_inputs(spec: ArchitectureSpec, count: int, seed: int) -> np.ndarray:
    """Inputs in the range the demo models are trained on: 2-D points, or 8x8 images in [0, 16]."""
    rng = np.random.default_rng(seed)
    if spec.input_shape == [2]:
        return rng.uniform(-1.5, 2.5, size=(count, 2))
    return rng.uniform(0, 16, size=(count, *spec.input_shape))


def publish(
    store: ModelStore, name: str, seed: int, *, bad_golden: bool = False, spec_of: str | None = None
) -> Manifest:
    """Publish a freshly initialised network as the next version of ``name``."""
    spec, classes = SPECS[spec_of or name]
    torch.manual_seed(seed)
    network = build_network(spec)
    inputs = sample_inputs(spec, 8, seed)
    probs = reference_probabilities(network, inputs, (0.0, 1.0))
    if bad_golden:
        probs = probs[:, ::-1].copy()
    golden = Golden(
        inputs=inputs.reshape(len(inputs), -1).tolist(),
        labels=probs.argmax(1).tolist(),
        probabilities=probs.tolist(),
        solver=GOLDEN_SOLVER,
    )
    files = {WEIGHTS_FILE: weights_to_bytes(network), GOLDEN_FILE: golden.model_dump_json().encode()}
    return store.publish(
        name, files, lambda version, digests: _manifest(name, version, digests, spec, classes, seed)
    )


def _manifest(
    name: str, version: int, digests: dict[str, str], spec: ArchitectureSpec, classes: list[str], seed: int
) -> Manifest:
    metric = SplitMetrics(accuracy=0.5, loss=0.69)
    record = TrainingRecord(
        dataset=name.split("-")[0],
        seed=seed,
        epochs=0,
        batch_size=1,
        learning_rate=1e-3,
        solver=SolverDefaults(),
        metrics={"train": metric, "test": metric},
        nfe=NfeStats(mean=20.0, p50=20.0, p95=26.0),
    )
    return Manifest(
        name=name,
        version=version,
        created_at=datetime.now(UTC),
        family="anode" if spec.augment_dim else "node",
        architecture=spec,
        input=InputSpec(shape=spec.input_shape),
        classes=classes,
        training=record,
        files=digests,
        description=f"random-initialised test model (seed {seed})",
    )


def build_store(root: Path) -> ModelStore:
    """moons-node v1, v2 (alias stable -> 1), circles-anode v1, digits-anode v1, broken-node v1 (fails)."""
    store = ModelStore(root)
    publish(store, "moons-node", seed=1)
    publish(store, "moons-node", seed=2)
    store.set_alias("moons-node", "stable", 1)
    publish(store, "circles-anode", seed=3)
    publish(store, "digits-anode", seed=4)
    publish(store, "broken-node", seed=5, bad_golden=True, spec_of="moons-node")
    return store
