"""Predict and trajectory over a real server: answers, both URL forms, and every caller mistake."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from models_store import METHODS, REFUSED_METHODS
from service.engine import ALL_METHODS

PREDICT = "/v1/models/{}/predict"
TRAJECTORY = "/v1/models/{}/trajectory"
POINT = [0.5, -0.25]


def _post(api: httpx.Client, model: str, body: dict, endpoint: str = "predict") -> httpx.Response:
    return api.post(f"/v1/models/{model}/{endpoint}", json=body)


def _error(response: httpx.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    assert set(body["error"]) == {"type", "message", "details"}
    return body["error"]


def test_predict_answers_labels_probabilities_nfe_and_solver(api: httpx.Client) -> None:
    r = _post(api, "moons-node", {"inputs": [POINT, [1.8, 0.1]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "moons-node" and body["version"] == 2  # latest
    assert all(p in {"upper", "lower"} for p in body["predictions"]) and len(body["predictions"]) == 2
    probs = np.array(body["probabilities"])
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1)
    assert [("upper", "lower")[i] for i in probs.argmax(1)] == body["predictions"]
    assert all(isinstance(n, int) and n > 0 for n in body["nfe"])
    assert len(body["accepted_steps"]) == len(body["rejected_steps"]) == 2
    assert body["solver"] == {
        "method": "dopri5",
        "rtol": 1e-4,
        "atol": 1e-4,
        "step_size": 0.05,
        "max_steps": 1000,
    }
    assert body["batch_invariant"] is True


@pytest.mark.parametrize("ref, version", [("1", 1), ("2", 2), ("latest", 2), ("stable", 1)])
def test_versioned_predict_resolves_numbers_and_aliases(api: httpx.Client, ref: str, version: int) -> None:
    r = api.post(f"/v1/models/moons-node/versions/{ref}/predict", json={"inputs": [POINT]})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == version


def test_solver_overrides_are_applied_and_reported(api: httpx.Client) -> None:
    solver = {"method": "bosh3", "rtol": 1e-7, "atol": 1e-6, "max_steps": 5000}
    body = _post(api, "moons-node", {"inputs": [POINT], "solver": solver}).json()
    assert body["solver"] == {**solver, "step_size": 0.05}
    loose = _post(api, "moons-node", {"inputs": [POINT]}).json()
    assert body["nfe"][0] > loose["nfe"][0]


def test_fixed_step_method_costs_steps_times_stages(api: httpx.Client) -> None:
    body = api.post(
        PREDICT.format("moons-node"), json={"inputs": [POINT], "solver": {"method": "rk4", "step_size": 0.1}}
    ).json()
    assert body["accepted_steps"] == [10] and body["nfe"] == [40]


def test_fallback_method_says_it_is_not_batch_invariant(api: httpx.Client) -> None:
    body = _post(api, "moons-node", {"inputs": [POINT], "solver": {"method": "dopri8"}}).json()
    assert body["batch_invariant"] is False and body["solver"]["method"] == "dopri8"


@pytest.mark.parametrize("endpoint", ["predict", "trajectory"])
@pytest.mark.parametrize("method", ["dopri8", "fixed_adams"])
def test_torchdiffeq_answers_say_their_step_counts_are_unknown(
    api: httpx.Client, endpoint: str, method: str
) -> None:
    body = _post(api, "moons-node", {"inputs": [POINT, POINT], "solver": {"method": method}}, endpoint).json()
    assert body["accepted_steps"] is None and body["rejected_steps"] is None  # null, not "no steps"
    assert body["nfe"][0] > 0 and body["batch_invariant"] is False


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_known_method_answers_without_a_server_error(api: httpx.Client, method: str) -> None:
    r = _post(api, "moons-node", {"inputs": [POINT], "solver": {"method": method}})
    assert r.status_code == 200, r.text


def test_digits_inputs_may_be_flat_or_nested(api: httpx.Client) -> None:
    image = np.random.default_rng(0).uniform(0, 16, size=(8, 8))
    nested = _post(api, "digits-anode", {"inputs": [[image.tolist()]]}).json()
    flat = _post(api, "digits-anode", {"inputs": [image.ravel().tolist()]}).json()
    mixed = _post(api, "digits-anode", {"inputs": [image.ravel().tolist(), [image.tolist()]]})
    assert nested["probabilities"] == flat["probabilities"]
    assert mixed.status_code == 200, mixed.text
    assert np.allclose(mixed.json()["probabilities"], flat["probabilities"] * 2, rtol=0, atol=1e-12)


def test_anode_trajectory_carries_the_augmented_dimension(api: httpx.Client) -> None:
    inputs = [POINT, [1.0, 1.0]]
    traj = _post(api, "circles-anode", endpoint="trajectory", body={"inputs": inputs, "num_points": 5}).json()
    pred = _post(api, "circles-anode", {"inputs": inputs}).json()
    states = np.array(traj["states"])
    assert states.shape == (5, 2, 3)  # D = input dim 2 + augment_dim 1
    assert np.allclose(states[0], [[*POINT, 0.0], [1.0, 1.0, 0.0]])  # z(0) = x padded with a zero
    assert traj["times"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.array(traj["probabilities"]).shape == (5, 2, 2)
    assert np.allclose(traj["probabilities"][-1], pred["probabilities"], atol=1e-12)
    assert traj["final_probabilities"] == pred["probabilities"]
    assert traj["predictions"] == pred["predictions"] and traj["nfe"] == pred["nfe"]


def test_trajectory_at_given_times_and_default_points(api: httpx.Client) -> None:
    times = [0.0, 0.1, 0.5, 1.0]
    solver = {"method": "rk4", "step_size": 0.05}
    body = api.post(
        "/v1/models/moons-node/versions/stable/trajectory",
        json={"inputs": [POINT], "times": times, "solver": solver},
    ).json()
    assert body["version"] == 1 and body["times"] == times and np.array(body["states"]).shape == (4, 1, 2)
    default = _post(api, "digits-anode", endpoint="trajectory", body={"inputs": [[0.0] * 64]}).json()
    assert len(default["times"]) == 20 and np.array(default["states"]).shape == (20, 1, 8)  # latent 6 + 2


@pytest.mark.parametrize("inputs", [[[float("nan"), 1.0]], [[float("inf"), 1.0]], [[1.0, float("-inf")]]])
def test_non_finite_numbers_are_refused(api: httpx.Client, inputs: list) -> None:
    import json

    r = api.post(
        PREDICT.format("moons-node"),
        content=json.dumps({"inputs": inputs}),
        headers={"content-type": "application/json"},
    )
    err = _error(r, 422, "validation_error")
    assert err["details"][0]["type"] == "finite_number"


@pytest.mark.parametrize(
    "body",
    [
        '{"inputs": [[0.5, NaN]]}',
        '{"inputs": [[0.5, 1]], "times": [0, Infinity]}',
        '{"inputs": [[0.5, 1]], "solver": {"rtol": NaN}}',
    ],
)
def test_nan_tokens_anywhere_are_refused(api: httpx.Client, body: str) -> None:
    r = api.post(TRAJECTORY.format("moons-node"), content=body, headers={"content-type": "application/json"})
    _error(r, 422, "validation_error")


def test_wrong_dimension_names_the_expected_shape(api: httpx.Client) -> None:
    err = _error(_post(api, "moons-node", {"inputs": [POINT, [1.0, 2.0, 3.0]]}), 422, "input_shape")
    assert "inputs[1]" in err["message"] and "[2]" in err["message"]
    assert err["details"]["expected_shape"] == [2] and err["details"]["got_shape"] == [3]
    err = _error(_post(api, "digits-anode", {"inputs": [[[0.0] * 8] * 7]}), 422, "input_shape")
    assert "[1, 8, 8]" in err["message"] and "64 numbers" in err["message"]


@pytest.mark.parametrize(
    "body, kind",
    [
        ({"inputs": []}, "validation_error"),
        ({"inputs": [1.0, 2.0]}, "validation_error"),
        ({"inputs": [["0.5", 1.0]]}, "validation_error"),
        ({"inputs": [[True, 1.0]]}, "validation_error"),
        ({"inputs": [POINT], "extra": 1}, "validation_error"),
        ({"inputs": [POINT], "solver": {"order": 5}}, "validation_error"),
        ({"inputs": [[POINT, [1.0]]]}, "input_shape"),
    ],
)
def test_malformed_bodies_are_refused(api: httpx.Client, body: dict, kind: str) -> None:
    _error(_post(api, "moons-node", body), 422, kind)


def test_too_many_inputs(api: httpx.Client) -> None:
    err = _error(_post(api, "moons-node", {"inputs": [POINT] * 1025}), 422, "limit_exceeded")
    assert "1024" in err["message"]


def test_too_many_time_points(api: httpx.Client) -> None:
    url = TRAJECTORY.format("moons-node")
    _error(api.post(url, json={"inputs": [POINT], "num_points": 1001}), 422, "limit_exceeded")
    times = np.linspace(0, 1, 1001).tolist()
    _error(api.post(url, json={"inputs": [POINT], "times": times}), 422, "limit_exceeded")


def test_trajectory_answer_size_is_bounded(api: httpx.Client) -> None:
    body = {"inputs": [[0.0] * 64] * 1024, "num_points": 1000}
    err = _error(_post(api, "digits-anode", endpoint="trajectory", body=body), 422, "limit_exceeded")
    assert "fewer time points or inputs" in err["message"]


@pytest.mark.parametrize(
    "extra",
    [
        {"times": [0.0, 0.5, 0.5]},
        {"times": [0.5, 0.2]},
        {"times": [-0.1, 0.5]},
        {"times": [0.5, 1.5]},
        {"num_points": 1},
        {"times": []},
        {"times": [0.0, 1.0], "num_points": 3},
    ],
)
def test_bad_times_are_refused(api: httpx.Client, extra: dict) -> None:
    r = _post(api, "moons-node", endpoint="trajectory", body={"inputs": [POINT], **extra})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "solver",
    [
        {"rtol": 0},
        {"atol": -1e-3},
        {"rtol": 1.0},
        {"atol": 2},
        {"rtol": 1e-11},
        {"atol": 0.9},
        {"step_size": 0},
        {"max_steps": 0},
        {"rtol": "1e-3"},
    ],
)
def test_bad_tolerances_and_steps_are_refused(api: httpx.Client, solver: dict) -> None:
    _error(_post(api, "moons-node", {"inputs": [POINT], "solver": solver}), 422, "validation_error")


def test_unknown_method_lists_the_known_ones(api: httpx.Client) -> None:
    err = _error(
        _post(api, "moons-node", {"inputs": [POINT], "solver": {"method": "rk45"}}), 422, "unknown_method"
    )
    assert "dopri5" in err["message"] and "rk4" in err["details"]["known"]


@pytest.mark.parametrize("method", REFUSED_METHODS)
def test_a_refused_method_answers_why_and_what_to_use_instead(api: httpx.Client, method: str) -> None:
    err = _error(
        _post(api, "moons-node", {"inputs": [POINT], "solver": {"method": method}}), 422, "unsupported_method"
    )
    refused = METHODS[method]
    assert refused.refused is not None and refused.refused in err["message"] and "instead" in err["message"]
    assert err["details"] == {"method": method, "reason": refused.refused, "instead": list(refused.instead)}


def test_max_steps_over_the_cap(api: httpx.Client) -> None:
    err = _error(
        _post(api, "moons-node", {"inputs": [POINT], "solver": {"max_steps": 10_001}}),
        422,
        "validation_error",
    )
    assert "10000" in err["message"]


def test_a_sample_needing_more_steps_than_allowed(api: httpx.Client) -> None:
    solver = {"max_steps": 2, "rtol": 1e-8, "atol": 1e-8}
    err = _error(_post(api, "moons-node", {"inputs": [POINT], "solver": solver}), 422, "step_limit_exceeded")
    assert "max_steps=2" in err["message"] and err["details"]["inputs"] == [0]
    fixed = {"method": "euler", "step_size": 1e-6}
    _error(
        _post(api, "moons-node", endpoint="trajectory", body={"inputs": [POINT], "solver": fixed}),
        422,
        "step_limit_exceeded",
    )


@pytest.mark.parametrize(
    "url, kind",
    [
        ("/v1/models/nope/predict", "model_not_found"),
        ("/v1/models/moons-node/versions/7/predict", "version_not_found"),
        ("/v1/models/moons-node/versions/prod/trajectory", "alias_not_found"),
        ("/v1/models/moons-node/versions/0/predict", "invalid_name"),
        ("/v1/models/Moons/predict", "invalid_name"),
    ],
)
def test_unknown_model_version_alias(api: httpx.Client, url: str, kind: str) -> None:
    _error(api.post(url, json={"inputs": [POINT]}), 404, kind)


def test_a_version_that_failed_to_load_is_not_served(api: httpx.Client) -> None:
    err = _error(_post(api, "broken-node", {"inputs": [POINT]}), 503, "version_unavailable")
    assert "golden self-test failed" in err["message"]
