"""Model listing and detail over a real server: versions with load status, aliases, baselines."""

from __future__ import annotations

import httpx
import pytest


def test_list_models_summarises_every_model(api: httpx.Client) -> None:
    body = api.get("/v1/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert list(by_name) == ["broken-node", "circles-anode", "digits-anode", "moons-node"]
    moons = by_name["moons-node"]
    assert moons["latest_version"] == 2 and moons["aliases"] == {"latest": 2, "stable": 1}
    assert moons["versions"] == [1, 2] and moons["loaded_versions"] == [1, 2]
    assert (moons["family"], moons["input_shape"], moons["classes"]) == ("node", [2], ["upper", "lower"])
    digits = by_name["digits-anode"]
    assert digits["input_shape"] == [1, 8, 8] and digits["family"] == "anode"
    assert by_name["broken-node"]["loaded_versions"] == []


def test_model_detail_shows_versions_aliases_and_what_latest_expects(api: httpx.Client) -> None:
    body = api.get("/v1/models/moons-node").json()
    assert [(v["version"], v["status"], v["aliases"]) for v in body["versions"]] == [
        (1, "loaded", ["stable"]),
        (2, "loaded", ["latest"]),
    ]
    latest = body["latest"]
    assert latest["input"]["shape"] == [2] and latest["classes"] == ["upper", "lower"]
    assert latest["default_solver"]["method"] == "dopri5" and latest["state_dim"] == 2
    assert latest["training"]["metrics"]["test"] == {"accuracy": 0.5, "loss": 0.69}
    assert body["versions"][0]["metrics"]["train"]["accuracy"] == 0.5


@pytest.mark.parametrize(
    ("model", "facts"),
    [
        ("circles-anode", ([2], 3, 1, [0.0, 1.0], ["inner", "outer"])),
        ("digits-anode", ([1, 8, 8], 8, 2, [0.0, 1.0], [str(d) for d in range(10)])),
    ],
)
def test_each_version_says_which_pictures_apply(api: httpx.Client, model: str, facts: tuple) -> None:
    """Input shape, state size, augmentation, time interval and classes: what the explorer draws by."""
    (version,) = api.get(f"/v1/models/{model}").json()["versions"]
    keys = ("input_shape", "state_dim", "augment_dim", "interval", "classes")
    assert tuple(version[k] for k in keys) == facts


def test_failed_version_is_listed_with_its_reason(api: httpx.Client) -> None:
    (version,) = api.get("/v1/models/broken-node").json()["versions"]
    assert version["status"] == "failed" and "golden self-test failed" in version["reason"]


@pytest.mark.parametrize("ref", ["1", "stable"])
def test_version_detail_has_manifest_status_and_golden_baseline(api: httpx.Client, ref: str) -> None:
    body = api.get(f"/v1/models/moons-node/versions/{ref}").json()
    assert body["version"] == 1 and body["status"] == "loaded" and body["reason"] is None
    assert body["aliases"] == ["stable"]
    baseline = body["golden_nfe_baseline"]
    assert baseline["nfe_mean"] > 0 and baseline["samples"] == 8 and baseline["solver"]["method"] == "dopri5"
    assert body["manifest"]["family"] == "node"
    assert set(body["files"]) == {"weights.safetensors", "golden.json"}


def test_anode_version_detail_reports_the_augmented_state(api: httpx.Client) -> None:
    manifest = api.get("/v1/models/circles-anode/versions/latest").json()["manifest"]
    assert manifest["augment_dim"] == 1 and manifest["state_dim"] == 3


def test_failed_version_detail_has_no_baseline(api: httpx.Client) -> None:
    body = api.get("/v1/models/broken-node/versions/1").json()
    assert body["status"] == "failed" and body["golden_nfe_baseline"] is None and body["reason"]


@pytest.mark.parametrize(
    "url, kind",
    [
        ("/v1/models/nope", "model_not_found"),
        ("/v1/models/moons-node/versions/3", "version_not_found"),
        ("/v1/models/moons-node/versions/prod", "alias_not_found"),
        ("/v1/models/%2e%2e", "invalid_name"),
        ("/v1/models/%2E%2E/versions/1", "invalid_name"),
        ("/v1/models/moons-node/versions/%2e%2e", "invalid_name"),
        ("/v1/models/..%2f..%2fetc", "not_found"),
    ],
)
def test_unknown_or_unsafe_names_are_404(api: httpx.Client, url: str, kind: str) -> None:
    r = api.send(api.build_request("GET", httpx.URL(api.base_url.join("/")).copy_with(raw_path=url.encode())))
    assert r.status_code == 404, r.text
    assert r.json()["error"]["type"] == kind
