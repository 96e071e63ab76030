"""The API docs work with no internet: Swagger UI and ReDoc from the vendored copies, in a real browser.

The browser may reach the server under test and nothing else (``browser.py``); each page must draw
its operations with no console error. The vendored files are checked against the README that pins
them (folders, versions written inside the bundles, checksums), so a re-vendor cannot drift silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import httpx
import pytest
from browser import REPO, chromium, offline_page, screenshot
from playwright.sync_api import Browser

from service.routes import api_docs
from service.schemas import examples

VENDOR = REPO / "service/static/docs/vendor"
PINS = VENDOR / "README.md"
BUNDLE_VERSION = {  # where each bundle writes its own version
    "swagger-ui-dist": ("swagger-ui-bundle.js", re.compile(r'PACKAGE_VERSION:"([^"]+)"')),
    "redoc": ("redoc.standalone.js", re.compile(r'" ReDoc Version: ","([^"]+)"')),
}
CONTENT_TYPES = {  # by suffix; JavaScript under either of its registered names
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".svg": {"image/svg+xml"},
    ".txt": {"text/plain"},
    ".md": {"text/markdown"},
    "": {"text/plain"},  # LICENSE, NOTICE
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as started:
        yield started


def _base_url(api: httpx.Client) -> str:
    return str(api.base_url).rstrip("/")


def _operations(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every operation of the OpenAPI document by its id, with ``path`` added."""
    spec = api.get("/openapi.json").json()
    return {
        op["operationId"]: {**op, "path": path}
        for path, item in spec["paths"].items()
        for op in item.values()
    }


def test_swagger_ui_draws_every_operation_and_the_predict_example_offline(
    api: httpx.Client, browser: Browser
) -> None:
    operations = _operations(api)
    with offline_page(browser, _base_url(api)) as (page, log):
        page.goto("/docs")
        page.wait_for_selector(".opblock")
        drawn = page.eval_on_selector_all(".opblock", "blocks => blocks.map(b => b.id)")
        assert sorted(i.rpartition("-")[2] for i in drawn) == sorted(operations)
        predict = page.locator("#operations-inference-predict")
        path = predict.locator(".opblock-summary-path").get_attribute("data-path")
        assert path == operations["predict"]["path"] == "/v1/models/{name}/predict"
        predict.locator(".opblock-summary-control").click()
        body = predict.locator("pre.body-param__example")
        assert json.loads(body.inner_text()) == examples.PREDICT_REQUEST  # the first named example
        answer = predict.locator('tr.response[data-code="200"] .highlight-code pre')
        assert json.loads(answer.inner_text()) == examples.PREDICT_RESPONSE
        screenshot(page, "docs-swagger")
    log.assert_clean()


def test_redoc_draws_every_operation_offline(api: httpx.Client, browser: Browser) -> None:
    titles = sorted(op["summary"] for op in _operations(api).values())
    with offline_page(browser, _base_url(api)) as (page, log):
        page.goto("/redoc")
        page.wait_for_selector(f"h2:text-is('{titles[0]}')")
        headings = {h.strip() for h in page.locator("h2").all_inner_texts()}
        assert set(titles) <= headings, set(titles) - headings
        screenshot(page, "docs-redoc")
    log.assert_clean()


def test_the_docs_pages_load_only_the_vendored_files(api: httpx.Client) -> None:
    swagger, redoc = api.get("/docs"), api.get("/redoc")
    assert f"/docs/static/vendor/{api_docs.SWAGGER_UI}/swagger-ui-bundle.js" in swagger.text
    assert f"/docs/static/vendor/{api_docs.REDOC}/redoc.standalone.js" in redoc.text
    for page in (swagger, redoc):
        assert "http" not in page.text
        links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        assert [u for u in links if not u.startswith("/docs/static/")] == []
        # and the browser is told to refuse anything else
        assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in swagger.text
    assert "<title>Swagger UI: OAuth2 Redirect</title>" in api.get("/docs/oauth2-redirect").text


def test_the_docs_routes_are_not_in_the_schema(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p.startswith(("/docs", "/redoc"))] == []


@pytest.mark.parametrize(
    "name",
    sorted(str(p.relative_to(VENDOR.parent)) for p in VENDOR.parent.rglob("*") if p.is_file()),
)
def test_each_static_file_is_served_as_itself_with_its_type(api: httpx.Client, name: str) -> None:
    served = api.get(f"/docs/static/{name}")
    assert served.status_code == 200
    assert served.content == (VENDOR.parent / name).read_bytes()
    assert served.headers["content-type"].split(";")[0] in CONTENT_TYPES[PurePosixPath(name).suffix]


@pytest.mark.parametrize("path", ["..%2F..%2Fapp.py", "%2E%2E/routes/api_docs.py", "vendor", "missing.js"])
def test_nothing_outside_the_docs_folder_is_served(api: httpx.Client, path: str) -> None:
    answer = api.get(f"/docs/static/{path}")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"


def _readme_pins() -> dict[str, str]:
    return dict(re.findall(r"^- ([a-z-]+) (\d+\.\d+\.\d+) ", PINS.read_text(), re.MULTILINE))


def test_the_vendored_versions_match_the_readme_and_the_code() -> None:
    pins = _readme_pins()
    assert set(pins) == set(BUNDLE_VERSION)
    folders = {f"{package}@{version}" for package, version in pins.items()}
    assert {p.name for p in VENDOR.iterdir() if p.is_dir()} == folders
    assert {api_docs.SWAGGER_UI, api_docs.REDOC} == folders
    for package, version in pins.items():
        bundle, written = BUNDLE_VERSION[package]
        text = (VENDOR / f"{package}@{version}" / bundle).read_text()
        assert written.findall(text) == [version], f"{bundle} does not say it is {version}"


def test_the_vendored_files_match_the_readme_checksums() -> None:
    listed = dict(
        (path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", PINS.read_text(), re.M)
    )
    present = {
        str(p.relative_to(VENDOR)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in VENDOR.rglob("*")
        if p.is_file() and p != PINS
    }
    assert present == listed


def test_the_redoc_bundle_is_patched_to_load_nothing_from_its_cdn() -> None:
    """ReDoc's footer logo comes from cdn.redoc.ly; the README's re-vendor steps patch it out."""
    assert "cdn.redoc.ly" not in (VENDOR / api_docs.REDOC / "redoc.standalone.js").read_text()
