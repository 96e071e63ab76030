"""The learned field as numpy arithmetic, for the solves of big batches.

A stored field is an MLP (``models_store.ODEField``: dense layers and one activation). Its ``tanh``
is most of a big batch's solve, and numpy's float64 ``tanh`` (SIMD) is several times faster than
torch's, whose every op also costs several microseconds of dispatch where numpy's costs one; so big
batches evaluate the same layers, with the same float64 weights, in numpy (figures:
benchmarks/README.md, "Big batches"). The answers agree with torch's to float64 round-off (numpy's
matmul and ``tanh`` round differently in the last bit, as ONNX Runtime's do); whether a version is
served this way is decided by the same parity probe as ONNX Runtime (``backends.select_backend``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models_store.architecture import ODEField

BLOCK = 1024
"""Columns (samples) evaluated at once. A bigger block's hidden activations (64 x 4096 float64 is
2 MiB) leave the core's cache between the matmul, the activation and the next layer: one evaluation
of 4096 samples took 3.6 ms unblocked and 1.4 ms in blocks for circles-node (64x64 hidden matmul),
0.52 and 0.36 ms for moons-node; 512 and 2048 were slower than 1024 here."""

GEMV_ROWS = 8
"""Output layers with up to this many rows (the state's dimensions) are evaluated row by row."""

Activation = Callable[[np.ndarray], object]
"""An element-wise function applied in place (its argument is the layer's own buffer)."""


def _tanh(x: np.ndarray) -> None:
    np.tanh(x, out=x)


def _relu(x: np.ndarray) -> None:
    np.maximum(x, 0.0, out=x)


def _sigmoid(x: np.ndarray) -> None:
    """1 / (1 + exp(-x)), torch's formula; exp overflows to inf for x < -709, giving 0."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)


def _silu(x: np.ndarray) -> None:
    gate = x.copy()
    _sigmoid(gate)
    x *= gate


def _softplus(x: np.ndarray) -> None:
    """torch's Softplus(beta=1, threshold=20): x above the threshold, log1p(exp(x)) up to it."""
    soft = np.log1p(np.exp(np.minimum(x, 20.0)))
    np.copyto(x, soft, where=~(x > 20.0))


def _elu(x: np.ndarray) -> None:
    """torch's ELU(alpha=1): x above 0, expm1(x) up to it."""
    np.copyto(x, np.expm1(np.minimum(x, 0.0)), where=~(x > 0.0))


_ACTIVATIONS: dict[type[nn.Module], Activation] = {
    nn.Tanh: _tanh,
    nn.ReLU: _relu,
    nn.Sigmoid: _sigmoid,
    nn.SiLU: _silu,
}


def _activation(module: nn.Module) -> Activation | None:
    """The numpy form of an activation module, None for one this module does not know."""
    if isinstance(module, nn.Softplus):
        return _softplus if (module.beta, module.threshold) == (1.0, 20.0) else None
    if isinstance(module, nn.ELU):
        return _elu if module.alpha == 1.0 else None
    return _ACTIVATIONS.get(type(module))


@dataclass(frozen=True)
class Hidden:
    """activation(weight @ [x; 1]): ``weight`` [out, in + 1] is torch's Linear weight with the bias
    as its last column, so the bias costs no pass of its own over the [out, n] output."""

    weight: np.ndarray
    activation: Activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """[out + 1, n]: the activations, and a row of ones for the next layer's bias."""
        width = self.weight.shape[0]
        out = np.empty((width + 1, x.shape[1]))
        np.matmul(self.weight, x, out=out[:width])
        self.activation(out[:width])
        out[width] = 1.0
        return out


@dataclass(frozen=True)
class MlpField:
    """f(t, z) of an ODEField in numpy, feature-major as the solver loop calls it (``rk.Field``):
    the hidden layers, the output layer [D, H + 1] (bias last), and whether t is the first input."""

    hidden: tuple[Hidden, ...]
    output: np.ndarray
    time_input: bool

    def __call__(self, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        n = z.shape[1]
        if n <= BLOCK:
            return self._columns(t, z)
        dz = np.empty((len(self.output), n))
        for start in range(0, n, BLOCK):
            part = slice(start, start + BLOCK)
            dz[:, part] = self._columns(t[part], z[:, part])
        return dz

    def _columns(self, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        dims, n = z.shape
        first = int(self.time_input)
        x = np.empty((first + dims + 1, n))  # [t; z; 1], filled in place (no concatenate)
        if self.time_input:
            x[0] = t
        x[first:-1] = z
        x[-1] = 1.0
        for layer in self.hidden:
            x = layer(x)
        if len(self.output) > GEMV_ROWS:
            dz: np.ndarray = self.output @ x
            return dz
        # a few output rows: one matrix-vector product each, about twice as fast here as BLAS's
        # matrix product with so few rows (benchmarks/README.md, "Big batches")
        dz = np.empty((len(self.output), n))
        for row, weights in zip(dz, self.output, strict=True):
            np.dot(weights, x, out=row)
        return dz


def mlp_field(module: object) -> MlpField | None:
    """The numpy form of a stored field (an ODEField: Linear and activation pairs, then a Linear),
    or None for anything else: another field callable, or a layer this module does not know."""
    if not isinstance(module, ODEField) or not isinstance(module.net, nn.Sequential):
        return None
    *pairs, last = list(module.net)
    if len(pairs) % 2 or not all(_dense(layer) for layer in [*pairs[::2], last]):
        return None
    hidden = []
    for linear, act in zip(pairs[::2], pairs[1::2], strict=True):
        activation = _activation(act)
        if activation is None:
            return None
        hidden.append(Hidden(_weight(linear), activation))
    return MlpField(tuple(hidden), _weight(last), module.time_input)


def _dense(layer: nn.Module) -> bool:
    return isinstance(layer, nn.Linear) and layer.bias is not None


def _weight(linear: nn.Module) -> np.ndarray:
    """A Linear layer's [weight | bias], float64, an array of its own (later changes to the module
    do not leak in)."""
    assert isinstance(linear, nn.Linear) and linear.bias is not None
    weight, bias = (p.detach().to(torch.float64).numpy() for p in (linear.weight, linear.bias))
    return np.concatenate([weight, bias[:, None]], axis=1)
