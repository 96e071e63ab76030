"""Training reports served by a real server: only the fixed files, inert, found through aliases.

The store is a copy of the shipped demo store (its reports built by ``make demo-store``), with
circles-node's report removed to stand for a version nobody drew. Paths are sent byte for byte
(``http.client``), so ``..`` and ``%2e%2e`` reach the server as a browser or an attacker sends them.
"""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from browser import chromium, offline_page, screenshot
from live_server import live_server

from models_store import DEFAULT_STORE_ROOT
from service.deps import REPORT_KEY_COOKIE

REPORT = "/ui/models/{name}/versions/{version}/report/"
MOONS = REPORT.format(name="moons-node", version="1")
API_KEY = "report-key"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _copy(root: Path, models: tuple[str, ...]) -> Path:
    for name in models:
        shutil.copytree(DEFAULT_STORE_ROOT / name, root / name, ignore=shutil.ignore_patterns(".lock"))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[httpx.Client]:
    root = _copy(tmp_path_factory.mktemp("reports") / "store", ("moons-node", "circles-node", "digits-anode"))
    shutil.rmtree(root / "circles-node" / ".reports")
    with live_server(root) as client:
        yield client


def _raw_get(client: httpx.Client, path: str) -> tuple[int, str, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..`` or escapes)."""
    conn = http.client.HTTPConnection(client.base_url.host, client.base_url.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        conn.close()


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.sources += [value or "" for name, value in attrs if tag == "img" and name == "src"]


def _images(html: str) -> list[str]:
    parser = _Images()
    parser.feed(html)
    return parser.sources


def _assert_inert(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "img-src 'self'" in policy and "script-src" not in policy


def test_the_page_is_html_under_a_policy_that_runs_no_script(server):
    page = server.get(MOONS)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    _assert_inert(page)
    assert "moons-node version 1" in page.text and "<script" not in page.text


def test_every_image_the_page_links_to_is_a_png_served_as_one(server):
    sources = _images(server.get(MOONS).text)
    assert "decision_boundary.png" in sources and "vector_field.png" in sources
    for source in sources:
        figure = server.get(MOONS + source)
        assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
        _assert_inert(figure)
        assert figure.content.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("alias", ["stable", "latest"])
def test_an_alias_serves_the_version_it_points_at(server, alias):
    page = server.get(REPORT.format(name="moons-node", version=alias))
    assert page.status_code == 200 and page.text == server.get(MOONS).text
    figure = server.get(REPORT.format(name="moons-node", version=alias) + "nfe_histogram.png")
    assert figure.content == server.get(MOONS + "nfe_histogram.png").content


def test_a_version_without_a_report_says_how_to_build_it(server):
    answer = server.get(REPORT.format(name="circles-node", version="latest"))
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "type": "not_found",
        "message": "no report for circles-node/1: build it with `python -m training report circles-node 1`",
        "details": None,
    }


@pytest.mark.parametrize(
    "path",
    [
        MOONS + "../manifest.json",
        MOONS + "%2e%2e/manifest.json",
        MOONS + "%2e%2e%2fmanifest.json",
        MOONS + "..%5cmanifest.json",
        MOONS + "%2e%2e",
        MOONS + "manifest.json",
        MOONS + "weights.safetensors",
        MOONS + "nope.png",
        MOONS + "INDEX.HTML",
        REPORT.format(name="digits-anode", version="1") + "decision_boundary.png",  # not drawn for images
        "/ui/models/moons-node/versions/1/report%2f..%2f..%2f1%2fmanifest.json",
    ],
)
def test_nothing_but_the_reports_own_files_is_served(server, path):
    status, content_type, body = _raw_get(server, path)
    assert (status, content_type) == (404, "application/json")
    assert b'"error":{"type":"not_found"' in body and b"sha256" not in body


@pytest.mark.parametrize(
    ("name", "version", "kind"),
    [
        ("nope", "1", "model_not_found"),
        ("moons-node", "9", "version_not_found"),
        ("moons-node", "beta", "alias_not_found"),
    ],
)
def test_an_unknown_model_or_version_is_a_404_naming_it(server, name, version, kind):
    answer = server.get(REPORT.format(name=name, version=version))
    assert answer.status_code == 404 and answer.json()["error"]["type"] == kind


def test_the_model_detail_links_each_version_to_its_report(server):
    assert [v["report"] for v in server.get("/v1/models/moons-node").json()["versions"]] == [MOONS]
    assert [v["report"] for v in server.get("/v1/models/circles-node").json()["versions"]] == [None]


def test_the_page_draws_offline_with_every_image_loaded(server):
    """In a real browser under the served policy: no console error (a refused image or style would
    be one), nothing fetched beyond the server, each image decoded at the size the page gives it."""
    base = str(server.base_url).rstrip("/")
    with chromium() as browser, offline_page(browser, base) as (page, log):
        for name in ("moons-node", "digits-anode"):
            page.goto(REPORT.format(name=name, version="1"))
            page.wait_for_load_state("load")
            sizes = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.getAttribute('width')])"
            )
            assert sizes and all(done and str(width) == given for done, width, given in sizes), sizes
            screenshot(page, f"report-{name}")
        log.assert_clean()


@pytest.fixture(scope="module")
def moons_only(tmp_path_factory) -> Path:
    return _copy(tmp_path_factory.mktemp("reports-small") / "store", ("moons-node",))


def test_with_the_ui_off_reports_are_404_and_unlinked(moons_only):
    with live_server(moons_only, env={"ODESERVE_UI": "false"}) as client:
        answer = client.get(MOONS)
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found"
        assert client.get(MOONS + "vector_field.png").status_code == 404
        assert [v["report"] for v in client.get("/v1/models/moons-node").json()["versions"]] == [None]


@pytest.fixture(scope="module")
def keyed(moons_only) -> Iterator[httpx.Client]:
    with live_server(moons_only, env={"ODESERVE_API_KEY": API_KEY}) as client:
        yield client


def test_with_api_keys_on_a_report_needs_the_key(keyed):
    assert keyed.get(MOONS).status_code == 401
    assert keyed.get(MOONS + "vector_field.png", headers={"X-API-Key": "wrong"}).status_code == 403
    assert keyed.get(MOONS, headers={"X-API-Key": API_KEY}).status_code == 200


@pytest.mark.parametrize("cookie, status", [(API_KEY, 200), ("wrong", 403), ("", 401), ("report%2Dkey", 200)])
def test_a_report_takes_the_key_from_the_explorers_cookie(keyed, cookie: str, status: int):
    """A plain link sends no header: the explorer keeps the key in a cookie the reports (and only
    they) read; percent-encoded as the page's script writes it."""
    sent = {"Cookie": f"{REPORT_KEY_COOKIE}={cookie}"}  # as the browser sends the page's cookie
    assert keyed.get(MOONS, headers=sent).status_code == status
    assert keyed.get(MOONS + "learning_curves.png", headers=sent).status_code == status
    # the cookie opens nothing else: no solve, no listing
    assert keyed.get("/v1/models", headers=sent).status_code == 401
    predict = keyed.post("/v1/models/moons-node/predict", json={"inputs": [[0.5, -0.2]]}, headers=sent)
    assert predict.status_code == 401
