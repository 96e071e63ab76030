"""The model explorer's numbers: what the pictures of a served version are drawn from.

``grid`` (class probabilities and NFE over a box of the input plane, solved as predict solves),
``vector_field`` (the learned f(t, z) on a plane through the ODE state) and ``dataset`` (the
training data, regenerated from the manifest). Each takes a validated request and answers a
response model; the routes in :mod:`service.routes.explore` only carry them over HTTP.
"""

from .dataset import dataset_answer
from .grid import grid_answer
from .vector_field import vector_field_answer

__all__ = ["dataset_answer", "grid_answer", "vector_field_answer"]
