"""Methods we do not run natively go through torchdiffeq, batched as it is.

torchdiffeq takes one step size for the whole batch, so these answers are not batch-invariant
and every sample reports the batch's NFE; the answer says so (``batch_invariant: false``). It does
not report its accepted and rejected steps either, so those are None (unknown), never a 0 that
would read as "no steps".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torchdiffeq

from models_store import METHODS

from .exceptions import StepLimitExceeded
from .integrate import Solution

TorchField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""f(t, z) as torch computes it: t [n], z [n, D]; returns dz/dt [n, D] (the network's own field)."""


class _Counted(torch.nn.Module):
    """Adapts a per-sample field to torchdiffeq's scalar time and counts evaluations."""

    def __init__(self, field: TorchField) -> None:
        super().__init__()
        self.field = field
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.field(t.to(z.dtype).expand(z.shape[0]), z)


def solve_reference(
    field: TorchField,
    method: str,
    y0: torch.Tensor,
    t0: float,
    t1: float,
    *,
    rtol: float,
    atol: float,
    step_size: float,
    max_steps: int,
    times: torch.Tensor | None = None,
) -> Solution:
    """Solve the whole batch with torchdiffeq.odeint and report it in the engine's terms."""
    inner = times[(times > t0) & (times < t1)] if times is not None else torch.empty(0, dtype=y0.dtype)
    grid = torch.cat([torch.tensor([t0], dtype=y0.dtype), inner, torch.tensor([t1], dtype=y0.dtype)])
    entry = METHODS[method]
    options: dict[str, object] = {}
    if not entry.adaptive:
        options["step_size"] = step_size
    elif entry.step_limit:
        options["max_num_steps"] = max_steps
    counted = _Counted(field)
    try:
        states = torchdiffeq.odeint(
            counted, y0, grid, rtol=rtol, atol=atol, method=entry.torchdiffeq, options=options
        )
    except AssertionError as exc:
        if "max_num_steps" in str(exc):
            raise StepLimitExceeded(range(y0.shape[0]), max_steps) from exc
        raise
    batch = y0.shape[0]
    outputs = None
    if times is not None:
        index = torch.searchsorted(grid, times)
        outputs = states[index]
    states = states.detach()
    return Solution(
        final=states[-1].numpy(),
        outputs=None if outputs is None else outputs.detach().numpy(),
        nfe=np.full(batch, counted.nfe, dtype=np.int64),
        accepted=None,
        rejected=None,
        failed=np.zeros(batch, dtype=bool),
    )
