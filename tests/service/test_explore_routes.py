"""The explorer's endpoints over real servers: the grid against predict, the vector field against the
network computed in torch from the version's weights, the dataset against training's generator."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from fixture_store import DEMO_READY
from live_server import live_server
from prometheus_client.parser import text_string_to_metric_families
from safetensors.torch import load_file

from models_store import DEFAULT_STORE_ROOT, WEIGHTS_FILE, ModelStore, OdeClassifier, build_network
from training import splits_from_record

BOX = [[-1.5, 2.5], [-1.0, 1.5]]
PLANE_MODELS = ["moons-node", "circles-anode"]
KEY = "explorer-key"
GRID_LIMIT = 100

needs_demo = pytest.mark.skipif(
    not DEMO_READY, reason="the demo store's records say how to regenerate its data"
)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and set(error) == {"type", "message", "details"}, error
    message: str = error["message"]
    return message


def _grid(api: httpx.Client, model: str, resolution: list[int], solver: dict[str, Any] | None = None) -> Any:
    return _ok(
        api.post(f"/v1/models/{model}/grid", json={"bounds": BOX, "resolution": resolution, "solver": solver})
    )


@pytest.fixture(scope="module")
def keyed(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server with an inference key and a small grid limit."""
    root = tmp_path_factory.mktemp("store-explorer") / "store"
    shutil.copytree(store_template, root)
    env = {"ODESERVE_API_KEY": KEY, "ODESERVE_MAX_GRID_POINTS": str(GRID_LIMIT)}
    with live_server(root, env=env) as client:
        client.headers["X-API-Key"] = KEY
        yield client


# -- grid -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "solver",
    [None, {"method": "bosh3", "rtol": 1e-6, "atol": 1e-6}, {"method": "rk4", "step_size": 0.1}],
    ids=["default", "bosh3-tight", "rk4"],
)
@pytest.mark.parametrize("model", PLANE_MODELS)
def test_every_grid_cell_is_what_predict_answers_for_its_point(
    demo_api: httpx.Client, model: str, solver: dict[str, Any] | None
) -> None:
    """9 x 8 = 72 points: more than one batch (64), so the grid is solved in parts."""
    grid = _grid(demo_api, model, [9, 8], solver)
    probs = np.array(grid["probabilities"])
    assert probs.shape == (8, 9, len(grid["classes"])) and grid["batch_invariant"] is True
    for j, y in enumerate(grid["ys"]):
        for i, x in enumerate(grid["xs"]):
            single = _ok(
                demo_api.post(f"/v1/models/{model}/predict", json={"inputs": [[x, y]], "solver": solver})
            )
            assert single["predictions"] == [grid["classes"][grid["labels"][j][i]]]
            assert single["nfe"] == [grid["nfe"][j][i]]
            assert np.allclose(single["probabilities"][0], probs[j, i], rtol=0, atol=1e-6)
            assert single["solver"] == grid["solver"] and single["version"] == grid["version"]


def test_grid_axes_are_the_evenly_spaced_points_of_the_box(demo_api: httpx.Client) -> None:
    grid = _grid(demo_api, "moons-node", [7, 3])
    assert grid["xs"] == np.linspace(*BOX[0], 7).tolist() and grid["ys"] == np.linspace(*BOX[1], 3).tolist()
    assert np.array(grid["labels"]).shape == np.array(grid["nfe"]).shape == (3, 7)


@pytest.mark.parametrize(
    ("loose", "tight"),
    [
        ({"rtol": 1e-2, "atol": 1e-2}, {"rtol": 1e-6, "atol": 1e-6}),
        ({"method": "rk4", "step_size": 0.2}, {"method": "rk4", "step_size": 0.05}),
    ],
    ids=["tolerances", "step_size"],
)
def test_tighter_solver_settings_cost_more_evaluations(
    demo_api: httpx.Client, loose: dict[str, Any], tight: dict[str, Any]
) -> None:
    cheap, dear = (np.array(_grid(demo_api, "moons-node", [6, 5], s)["nfe"]) for s in (loose, tight))
    assert (cheap <= dear).all() and cheap.sum() < dear.sum()


def test_a_method_that_is_not_batch_invariant_has_no_nfe_map(demo_api: httpx.Client) -> None:
    grid = _grid(demo_api, "moons-node", [3, 2], {"method": "dopri8"})
    assert grid["batch_invariant"] is False and grid["nfe"] == [[None] * 3] * 2
    assert np.array(grid["probabilities"]).shape == (2, 3, 2)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"bounds": BOX, "resolution": [1, 5]}, "resolution"),
        ({"bounds": BOX, "resolution": [5, 129]}, "resolution"),
        ({"bounds": BOX, "resolution": [5, "5"]}, "resolution"),
        ({"bounds": BOX, "resolution": [5, 5, 5]}, "resolution"),
        ({"bounds": [[1.0, 1.0], [0.0, 1.0]], "resolution": [5, 5]}, "min < max"),
        ({"bounds": [[0.0, 1.0], [2.0, -2.0]], "resolution": [5, 5]}, "min < max"),
        ({"bounds": [[0.0, 1.0]], "resolution": [5, 5]}, "bounds"),
        ({"bounds": BOX, "resolution": [5, 5], "colour": "red"}, "colour"),
        ({"resolution": [5, 5]}, "bounds"),
        ({"bounds": BOX, "resolution": [5, 5], "solver": {"rtol": 2.0}}, "rtol"),
    ],
)
def test_grid_bodies_that_do_not_fit_the_schema_are_422(
    demo_api: httpx.Client, body: Any, where: str
) -> None:
    assert where in _error(demo_api.post("/v1/models/moons-node/grid", json=body), 422, "validation_error")


def _nfe_samples(api: httpx.Client, model: str) -> tuple[float, float]:
    """(samples in the per-sample NFE histogram, solver steps counted) for ``model``, all versions."""
    samples = steps = 0.0
    for family in text_string_to_metric_families(api.get("/metrics").text):
        for sample in family.samples:
            if sample.labels.get("model") != model:
                continue
            if sample.name == "odeserve_sample_nfe_count":
                samples += sample.value
            elif sample.name == "odeserve_solver_steps_total":
                steps += sample.value
    return samples, steps


def test_a_grid_is_not_traffic_for_the_nfe_drift_histogram(keyed: httpx.Client) -> None:
    """A grid sweeps a box far from the data; its points would push the p95 NFE the drift alert
    compares with the golden baseline. They are solved and their steps counted, but kept out of
    the per-sample NFE histogram, where a predict's points go."""
    before = _nfe_samples(keyed, "moons-node")
    _grid(keyed, "moons-node", [8, 8])
    after_grid = _nfe_samples(keyed, "moons-node")
    assert after_grid[0] == before[0] and after_grid[1] > before[1]
    assert _ok(keyed.post("/v1/models/moons-node/predict", json={"inputs": [[0.5, -0.2]] * 3}))
    assert _nfe_samples(keyed, "moons-node")[0] == after_grid[0] + 3


def test_a_nan_bound_is_422(demo_api: httpx.Client) -> None:
    raw = b'{"bounds": [[NaN, 1.0], [0.0, 1.0]], "resolution": [5, 5]}'
    r = demo_api.post("/v1/models/moons-node/grid", content=raw, headers={"Content-Type": "application/json"})
    assert "finite" in _error(r, 422, "validation_error")


def test_a_grid_over_the_server_limit_is_422(keyed: httpx.Client) -> None:
    r = keyed.post("/v1/models/moons-node/grid", json={"bounds": BOX, "resolution": [11, 10]})
    assert "110 points" in _error(r, 422, "limit_exceeded")
    assert r.json()["error"]["details"] == {"max_grid_points": GRID_LIMIT}
    _ok(keyed.post("/v1/models/moons-node/grid", json={"bounds": BOX, "resolution": [10, 10]}))


def test_a_model_whose_input_is_not_a_point_has_no_grid(demo_api: httpx.Client) -> None:
    r = demo_api.post("/v1/models/digits-anode/grid", json={"bounds": BOX, "resolution": [3, 3]})
    assert "2 numbers" in _error(r, 422, "input_shape")


# -- vector field -------------------------------------------------------------------------------------


def _network(store: ModelStore, model: str, version: int) -> OdeClassifier:
    """The version's network rebuilt from its manifest and safetensors weights, in float64."""
    network = build_network(store.manifest(model, version).architecture)
    network.load_state_dict(load_file(store.version_dir(model, version) / WEIGHTS_FILE))
    return network.double().eval()


@pytest.mark.parametrize(
    ("model", "dims", "point"),
    [
        ("moons-node", [0, 1], None),
        ("moons-node", [1, 0], [0.3, -0.2]),
        ("circles-anode", [0, 2], [0.1, -0.4, 0.0]),
    ],
)
def test_the_vector_field_is_the_network_evaluated_in_torch(
    demo_api: httpx.Client, demo_store: Path, model: str, dims: list[int], point: list[float] | None
) -> None:
    body = {"t": 0.4, "dims": dims, "bounds": BOX, "resolution": [5, 4], "point": point}
    answer = _ok(demo_api.post(f"/v1/models/{model}/vector_field", json=body))
    network = _network(ModelStore(demo_store), model, answer["version"])
    base = np.zeros(network.spec.state_dim) if point is None else np.array(point)
    gx, gy = np.meshgrid(answer["xs"], answer["ys"])
    z = np.tile(base, (gx.size, 1))
    z[:, dims[0]], z[:, dims[1]] = gx.ravel(), gy.ravel()
    with torch.no_grad():
        f = network.field(torch.tensor(0.4, dtype=torch.float64), torch.from_numpy(z)).numpy()
    assert np.allclose(answer["u"], f[:, dims[0]].reshape(4, 5), rtol=1e-12, atol=1e-12)
    assert np.allclose(answer["v"], f[:, dims[1]].reshape(4, 5), rtol=1e-12, atol=1e-12)
    assert answer["xs"] == np.linspace(*BOX[0], 5).tolist() and answer["point"] == base.tolist()
    spec = network.spec
    assert (answer["state_dim"], answer["input_dim"], answer["augment_dim"]) == (
        spec.state_dim,
        spec.encoded_dim,
        spec.augment_dim,
    )


@pytest.mark.parametrize(
    ("change", "kind", "says"),
    [
        ({"t": 1.5}, "invalid_request", "interval"),
        ({"t": -0.01}, "invalid_request", "interval"),
        ({"dims": [0, 3]}, "invalid_request", "state dimensions 0 to 2"),
        ({"dims": [1, 1]}, "validation_error", "different"),
        ({"dims": [-1, 0]}, "validation_error", "dims"),
        ({"point": [0.0, 0.0]}, "invalid_request", "point has 2 numbers"),
        ({"resolution": [65, 4]}, "validation_error", "resolution"),
        ({"speed": 2}, "validation_error", "speed"),
    ],
)
def test_vector_field_requests_that_do_not_fit_the_model_are_422(
    demo_api: httpx.Client, change: dict[str, Any], kind: str, says: str
) -> None:
    body = {"t": 0.5, "bounds": BOX, "resolution": [4, 4], **change}
    assert says in _error(demo_api.post("/v1/models/circles-anode/vector_field", json=body), 422, kind)


# -- dataset ------------------------------------------------------------------------------------------


@needs_demo
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("model", PLANE_MODELS)
def test_the_dataset_is_what_training_generated(demo_api: httpx.Client, model: str, split: str) -> None:
    record = ModelStore(DEFAULT_STORE_ROOT).manifest(model, 1).training
    assert record is not None
    part = getattr(splits_from_record(record), split)
    answer = _ok(demo_api.get(f"/v1/models/{model}/dataset", params={"split": split, "limit": 40}))
    assert answer["features"] == part.x[:40].tolist() and answer["labels"] == part.y[:40].tolist()
    assert (answer["split"], answer["total"], answer["dataset"]) == (split, len(part), record.dataset)


@needs_demo
def test_the_dataset_limit_and_split_are_honoured(demo_api: httpx.Client) -> None:
    train = _ok(demo_api.get("/v1/models/moons-node/dataset", params={"limit": 7}))
    test = _ok(demo_api.get("/v1/models/moons-node/dataset", params={"split": "test", "limit": 7}))
    assert train["split"] == "train" and len(train["features"]) == len(train["labels"]) == 7
    assert train["features"] != test["features"]
    default = _ok(demo_api.get("/v1/models/moons-node/dataset"))
    assert len(default["features"]) == 500 and default["features"][:7] == train["features"]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 5001}, {"split": "holdout"}])
def test_dataset_queries_out_of_bounds_are_422(demo_api: httpx.Client, query: dict[str, Any]) -> None:
    _error(demo_api.get("/v1/models/moons-node/dataset", params=query), 422, "validation_error")


def test_data_that_cannot_be_regenerated_is_422_with_the_reason(
    demo_api: httpx.Client, api: httpx.Client
) -> None:
    assert "8x8 images" in _error(demo_api.get("/v1/models/digits-anode/dataset"), 422, "invalid_request")
    # the fixture store's records name a toy dataset without its size and noise
    assert "samples=None" in _error(api.get("/v1/models/moons-node/dataset"), 422, "invalid_request")


# -- every endpoint ----------------------------------------------------------------------------------

REQUESTS = [
    ("POST", "grid", {"bounds": BOX, "resolution": [3, 3]}),
    ("POST", "vector_field", {"t": 0.0, "bounds": BOX, "resolution": [3, 3]}),
    ("GET", "dataset", None),
]


@pytest.mark.parametrize(("method", "endpoint", "body"), REQUESTS)
def test_both_url_forms_resolve_versions_and_aliases(
    api: httpx.Client, method: str, endpoint: str, body: Any
) -> None:
    for prefix, version in [("", 2), ("/versions/1", 1), ("/versions/stable", 1), ("/versions/latest", 2)]:
        r = api.request(method, f"/v1/models/moons-node{prefix}/{endpoint}", json=body)
        if endpoint == "dataset":  # the fixture store cannot regenerate its data: the error names the version
            assert f"moons-node/{version}" in _error(r, 422, "invalid_request")
        else:
            assert _ok(r)["version"] == version


@pytest.mark.parametrize(("method", "endpoint", "body"), REQUESTS)
def test_unknown_models_and_versions_are_404(
    api: httpx.Client, method: str, endpoint: str, body: Any
) -> None:
    _error(api.request(method, f"/v1/models/nope-node/{endpoint}", json=body), 404, "model_not_found")
    _error(
        api.request(method, f"/v1/models/moons-node/versions/9/{endpoint}", json=body),
        404,
        "version_not_found",
    )


@pytest.mark.parametrize(("method", "endpoint", "body"), REQUESTS)
def test_the_api_key_is_needed_when_one_is_set(
    keyed: httpx.Client, method: str, endpoint: str, body: Any
) -> None:
    url = f"{keyed.base_url}/v1/models/circles-anode/{endpoint}"
    _error(httpx.request(method, url, json=body), 401, "unauthorized")
    _error(httpx.request(method, url, json=body, headers={"X-API-Key": KEY + "x"}), 403, "forbidden")
    r = keyed.request(method, f"/v1/models/circles-anode/{endpoint}", json=body)
    assert r.status_code in (200, 422), r.text  # in: the fixture store's data cannot be regenerated
