"""golden.json: reference answers the service re-solves at load time before it serves a version.

Probabilities are solved tightly (dopri5, rtol = atol = 1e-7, float64, one sample at a time)
so they are the true answer up to ~1e-6, not an artefact of one solver; the NFE are each
sample's own at the manifest's default solver (float32, like serving) and are the drift baseline.
"""

from __future__ import annotations

import copy

import torch

from models_store import Golden, OdeClassifier, SolverDefaults

from .evaluation import solve_each

GOLDEN_SOLVER = SolverDefaults(method="dopri5", rtol=1e-7, atol=1e-7)
GOLDEN_COUNT = 32


def make_golden(network: OdeClassifier, x: torch.Tensor, default_solver: SolverDefaults) -> Golden:
    """Golden answers for the first GOLDEN_COUNT samples of ``x`` (held-out inputs)."""
    inputs = x[:GOLDEN_COUNT].float()
    exact = copy.deepcopy(network).double()
    logits, _ = solve_each(exact, inputs.double(), GOLDEN_SOLVER)
    probabilities = torch.softmax(logits, dim=1)
    _, nfe = solve_each(network.float(), inputs, default_solver)
    return Golden(
        inputs=inputs.flatten(1).tolist(),
        labels=probabilities.argmax(dim=1).tolist(),
        probabilities=probabilities.tolist(),
        solver=GOLDEN_SOLVER,
        nfe=nfe,
    )
