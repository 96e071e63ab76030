"""The learned vector field f(t, z) on a plane through the ODE state, from the version's own network.

Two state dimensions vary over a box, the others stay at the request's ``point`` (zeros by default);
for an augmented model the augmented dimensions are state dimensions like the others, so the plane
may cut through them. The network is the one the solver runs (float64, no gradients), evaluated
once per point on the solver thread, after what is queued there and under the request deadline.
"""

from __future__ import annotations

import functools

import numpy as np
from starlette.types import Scope

from models_store import Manifest
from service.deps import Runtime
from service.errors import InvalidRequest
from service.inference import resolve
from service.schemas import VectorFieldRequest, VectorFieldResponse

from .plane import axes, points, rows

_DOOR_UNITS = 1
"""What one plane counts as in the batcher's queue: one evaluation per point costs about what a
single sample's solve does (tens of evaluations), and the queue must never refuse it for its size."""


async def vector_field_answer(
    rt: Runtime, scope: Scope, name: str, ref: str | None, body: VectorFieldRequest
) -> VectorFieldResponse:
    """f(t, z) over the request's plane, for the version ``name``/``ref`` (None: ``latest``)."""
    loaded = resolve(rt, scope, name, ref)
    manifest = loaded.manifest
    _check_time(body.t, manifest)
    base = _base_point(body, manifest)
    xs, ys = axes(body.bounds, body.resolution)
    states = np.tile(base, (len(xs) * len(ys), 1))
    states[:, list(body.dims)] = points(xs, ys)
    evaluate = functools.partial(loaded.runner.field_at, body.t, states)
    flow = await rt.executor.evaluate(evaluate, _DOOR_UNITS)
    arch = manifest.architecture
    return VectorFieldResponse.model_construct(
        model=loaded.name,
        version=loaded.version,
        t=body.t,
        dims=list(body.dims),
        state_dim=arch.state_dim,
        input_dim=arch.encoded_dim,
        augment_dim=arch.augment_dim,
        point=base.tolist(),
        xs=xs.tolist(),
        ys=ys.tolist(),
        u=rows(flow[:, body.dims[0]], len(xs)),
        v=rows(flow[:, body.dims[1]], len(xs)),
    )


def _check_time(t: float, manifest: Manifest) -> None:
    t0, t1 = manifest.interval
    if not t0 <= t <= t1:
        raise InvalidRequest(
            f"t must lie inside model {manifest.name!r}'s interval [{t0:g}, {t1:g}]", {"interval": [t0, t1]}
        )


def _base_point(body: VectorFieldRequest, manifest: Manifest) -> np.ndarray:
    """The state the plane passes through, after checking ``dims`` and ``point`` against the model."""
    arch = manifest.architecture
    size = arch.state_dim
    state = f"{arch.encoded_dim} from the input and {arch.augment_dim} augmented"
    if max(body.dims) >= size:
        raise InvalidRequest(
            f"dims {list(body.dims)} must be state dimensions 0 to {size - 1} of model {manifest.name!r} "
            f"(its state has {size}: {state})",
            {"state_dim": size, "input_dim": arch.encoded_dim, "augment_dim": arch.augment_dim},
        )
    if body.point is None:
        return np.zeros(size)
    if len(body.point) != size:
        raise InvalidRequest(
            f"point has {len(body.point)} numbers; model {manifest.name!r}'s state has {size} ({state})",
            {"state_dim": size},
        )
    return np.asarray(body.point, dtype=np.float64)
