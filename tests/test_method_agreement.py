"""Training, the manifest and the service accept exactly the same solver methods.

The one place this can be checked: ``service`` and ``training`` never import each other, so only
a test outside both sees them side by side. A method trained with but not served (or a default
written into a manifest the service then refuses) would be a model nobody can use as trained.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import training
from models_store import METHODS, SERVED_METHODS, SolverDefaults
from service.engine import ALL_METHODS, RefusedMethod, SolverConfig, UnknownMethod
from training import TrainConfig


def _service_accepts(method: str) -> bool:
    try:
        SolverConfig(method, 1e-4, 1e-4, 0.05, 1000)
    except (UnknownMethod, RefusedMethod):
        return False
    return True


def _accepts(build: type[TrainConfig] | type[SolverDefaults], **options: str) -> bool:
    try:
        build(**options)
    except ValidationError:
        return False
    return True


def test_the_method_lists_are_one_list() -> None:
    assert set(training.METHODS) == set(ALL_METHODS) == set(SERVED_METHODS)


@pytest.mark.parametrize("method", [*METHODS, "rk45", "DOPRI5", ""])
def test_training_the_manifest_and_the_service_agree_on(method: str) -> None:
    served = method in METHODS and METHODS[method].served
    assert _service_accepts(method) == served
    assert _accepts(TrainConfig, method=method) == served
    assert _accepts(TrainConfig, serve_method=method) == served
    assert _accepts(SolverDefaults, method=method) == served
