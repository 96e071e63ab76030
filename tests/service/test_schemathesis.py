"""Property-based fuzzing of the whole OpenAPI document against a real server (schemathesis).

Every operation gets schema-valid (positive) and schema-breaking (negative) requests, with the
right API key (the admin key for admin routes); schemathesis checks each answer: no 5xx, status
codes, headers and bodies as documented, auth enforced. Tight limits keep each request cheap.
``positive_data_acceptance`` is left out: a request can fit the schema and still be refused (422;
400 under /v2) for the model's input shape or the server's limits, which the schema cannot express.

A longer run: ODESERVE_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/service/test_schemathesis.py
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from live_server import ADMIN_KEY, live_server
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

API_KEY = "fuzz-key"
EXAMPLES = int(os.environ.get("ODESERVE_FUZZ_EXAMPLES", "75"))
MIN_REQUESTS = 2000
MODELS = ["moons-node", "circles-anode", "digits-anode"]
TIGHT = {
    "ODESERVE_API_KEY": API_KEY,
    "ODESERVE_MAX_INPUTS": "4",
    "ODESERVE_MAX_TIME_POINTS": "16",
    "ODESERVE_MAX_STEPS_CAP": "200",
    "ODESERVE_MIN_TOLERANCE": "1e-6",
    "ODESERVE_MAX_BODY_BYTES": "65536",
    "ODESERVE_MAX_TRAJECTORY_VALUES": "1000",
    "ODESERVE_MAX_GRID_POINTS": "64",
    "ODESERVE_REQUEST_TIMEOUT_S": "5",
}


@pytest.fixture(scope="module")
def server(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("store-fuzz") / "store"
    shutil.copytree(store_template, root)
    shutil.rmtree(root / "broken-node")  # its documented 503 (failed to load) would count as a 5xx
    with live_server(root, env=TIGHT) as client:
        yield client


def _strategy(operation: schemathesis.APIOperation, mode: GenerationMode) -> st.SearchStrategy:
    """The operation's cases; valid ones often name a real model, so requests get past the 404."""
    cases = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE or "{name}" not in operation.path:
        return cases

    def named(pair: tuple[schemathesis.Case, str | None]) -> schemathesis.Case:
        case, name = pair
        if name is not None:
            case.path_parameters = {**(case.path_parameters or {}), "name": name}
        return case

    return st.tuples(cases, st.sampled_from([None, *MODELS])).map(named)


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    failures: list[str],
) -> int:
    """Run one operation's examples; returns how many requests were sent."""
    sent = 0
    key = ADMIN_KEY if operation.path.startswith("/v1/admin") else API_KEY

    @given(case=_strategy(operation, mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(
            base_url=base_url,
            session=session,
            headers={"X-API-Key": key},
            excluded_checks=[positive_data_acceptance],
            timeout=30,
        )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:  # no way to break the schema of an operation without inputs
        assert mode is GenerationMode.NEGATIVE
    except Exception as exc:  # noqa: BLE001 -- go on with the other operations, then report them all
        failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    return sent


def test_fuzzed_requests_never_get_a_server_error(server: httpx.Client) -> None:
    base_url = str(server.base_url)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    sent = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                sent += _fuzz(operation, mode, base_url, session, failures)
    assert not failures, "\n\n".join(failures)
    if EXAMPLES >= 75:
        assert sent >= MIN_REQUESTS, sent
    assert server.get("/readyz").status_code == 200  # still up and serving
    assert (
        server.post(
            "/v1/models/moons-node/predict", json={"inputs": [[0.5, -0.25]]}, headers={"X-API-Key": API_KEY}
        ).status_code
        == 200
    )
