"""A Runge-Kutta step's stages as one growing stack, so that every combination a Butcher tableau
asks for (a stage input, the solution, the error estimate) is a single MatMul with a constant
matrix, and a stage input can even be folded into the field's first dense layer. At batch 1 ONNX
Runtime's cost is per kernel rather than per flop, so this layout, not the arithmetic, is what
makes a step cheap; it lives apart from the step itself because it is the one place where the
tableau's coefficients become matrices.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .builder import DOMAIN, FIELD_TAIL, GraphBuilder
from .stored_field import FirstLayer

# fold a stage combination into the first layer when it costs less than a kernel
FUSE_MAX_EXTRA_MACS = 1024


class StageStack:
    """The step's stages as one stack [B, D(1+j)] = [y, h k1, ..., h kj].

    A stage input y + sum_j a_ij h k_j is then one MatMul with the constant block matrix
    [I; a_i1 I; ...; a_ij I], and, when the field opens with a dense layer, the product of that
    matrix with the layer's weights gives the layer's pre-activation in one Gemm. Each output row
    is a dot product over its own row of the stack, so samples stay independent.
    """

    def __init__(self, b: GraphBuilder, y: str, h: str, dim: int, layer: FirstLayer | None) -> None:
        self.b, self.h, self.dim, self.layer = b, h, dim, layer
        self.stack = y
        self.ks: list[str] = []

    def push(self, k: str) -> None:
        self.stack = self.b.op("Concat", self.stack, self.b.op("Mul", self.h, k), axis=1)
        self.ks.append(k)

    def _blocks(self, weights: tuple[float, ...], with_y: bool) -> npt.NDArray[np.float64]:
        vector = np.array([1.0 if with_y else 0.0, *weights[: len(self.ks)]])
        return np.kron(vector[:, None], np.eye(self.dim))

    def combine(self, weights: tuple[float, ...], with_y: bool = True) -> str:
        """y + sum_j w_j h k_j (or without y), over the stages pushed so far."""
        return self.b.op("MatMul", self.stack, self.b.const(self._blocks(weights, with_y)))

    def evaluate(self, t: str, weights: tuple[float, ...]) -> str:
        """The field at the stage input with these weights."""
        layer, blocks = self.layer, self._blocks(weights, True)
        if layer is not None:
            width, hidden = blocks.shape[0], layer.weight.shape[1]
            if width * hidden - (width * self.dim + self.dim * hidden) <= FUSE_MAX_EXTRA_MACS:
                weight, bias = self.b.const(blocks @ layer.weight), self.b.const(layer.bias)
                pre = self.b.op("Gemm", self.stack, weight, bias)
                return self.b.op(FIELD_TAIL, pre, domain=DOMAIN)
        return self.b.field(t, self.b.op("MatMul", self.stack, self.b.const(blocks)))
