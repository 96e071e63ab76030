"""A whole per-sample Runge-Kutta solve as ONE ONNX graph: a ``Loop`` around the stored field.

torchdiffeq (and our torch loop) pay Python overhead on every step; here a step is a few dozen
ONNX Runtime kernels, so a single-point solve costs little more than its arithmetic. The graph is
built from the same Butcher tableaus and the same controller as the torch solver and calls the
version's exported ``field.onnx`` (converted to float64) as a model-local function. At batch 1
ONNX Runtime's cost is a fixed overhead per kernel whatever its size, so the graph is written for
the fewest kernels (measured figures: benchmarks/README.md, "ONNX solve graph"):

- the stages live in one stack ``[y, h k1, ..., h kj]`` (width D(1+j)); every stage input is one
  MatMul with a constant block matrix, and when the field starts with a dense layer on z that
  matrix is multiplied into the layer's weights, so a stage input costs no kernel of its own
  (:mod:`.stages`, with the layer split off in :mod:`.stored_field`);
- the error test compares a sum of squares with a constant (no mean, no sqrt) and the step-size
  factor is one Pow of it (:mod:`.controller`, :mod:`.step`);
- no per-sample masks: the Loop carries the time left, a finished sample is a fixed point of the
  step, and step counts are not carried but summed once from per-iteration scan outputs
  (:mod:`.step`, :mod:`.solve_graph`);
- when every sample has the same ``max_steps`` (a single request's always do), the Loop's trip
  count is the budget (``mixed_budgets=False``), so no per-sample budget test runs per step.

The modules, from the bottom up: :mod:`.builder` (node-building vocabulary), :mod:`.stored_field`
(the exported field as float64 functions), :mod:`.stages` (the stage stack), :mod:`.controller`
(step-size arithmetic mirroring ``integrate.py``), :mod:`.step` (the Loop body) and
:mod:`.solve_graph` (the model: inputs, outputs, Loop, counts, read-out). Running the graph
(sessions, output names, cancellation) is the backend's job, in ``service/engine/backends.py``.
"""

from .solve_graph import OUTPUTS, PROBABILITIES, STATES_AT, TIMES, Head, build_solver
from .stored_field import FieldConversionError, FirstLayer, field_function, first_layer, state_dim

__all__ = [
    "OUTPUTS",
    "PROBABILITIES",
    "STATES_AT",
    "TIMES",
    "FieldConversionError",
    "FirstLayer",
    "Head",
    "build_solver",
    "field_function",
    "first_layer",
    "state_dim",
]
