"""The request body both baselines parse: the ``inputs`` of odeserve's predict request."""

from __future__ import annotations

from pydantic import BaseModel


class PredictBody(BaseModel):
    inputs: list[list[float]]
