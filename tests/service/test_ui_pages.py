"""The model explorer's pages in a real browser, on a real server serving the demo store.

The browser may reach the server under test and nothing else (``browser.py``). Each page must draw
with no console error, and what it shows is checked against the JSON API it draws from: a clicked
point's label, probabilities and NFE against ``/predict`` for the very point the page sent, its
drawn path against ``/trajectory``, the surface's colours against the classes predict gives.
Screenshots land in ``test-artefacts/screenshots/``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import REPO, PageLog, chromium, offline_page, screenshot
from fixture_store import DEMO_READY
from live_server import live_server
from playwright.sync_api import Browser, Page

from models_store import METHODS, SERVED_METHODS
from service.routes import ui

STATIC = REPO / "service/static/ui"
VENDOR = STATIC / "vendor"
API_KEY = "ui-test-key"
READY = "body[data-state=ready]"
CLASS_RGB = ((0x4E, 0x79, 0xA7), (0xF2, 0x8E, 0x2C))  # d3.schemeTableau10[0:2], the page's class colours
FAILED_LOAD = "Failed to load resource: the server responded with a"

_PIXELS = """([selector, points]) => {
  const canvas = document.querySelector(selector);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let k = 0; k < data.length; k += 4) colours.add((data[k] << 16) | (data[k + 1] << 8) | data[k + 2]);
  const at = ([x, y]) => Array.from(data.slice(4 * (y * canvas.width + x), 4 * (y * canvas.width + x) + 3));
  return { distinct: colours.size, pixels: points.map(at) };
}"""


@pytest.fixture(scope="module")
def server(demo_store: Path) -> Iterator[httpx.Client]:
    with live_server(demo_store) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as started:
        yield started


def _base(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def _open(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector(READY, timeout=60_000)


def _assert_clean(log: PageLog, client: httpx.Client, name: str) -> None:
    """``log.assert_clean()``, allowing the one failed load a plane page meets on purpose (a browser
    logs every one): the data of a model whose data cannot be regenerated (422; the fixture store's
    models have no data recipe), which the page reports and draws without."""
    if client.get(f"/v1/models/{name}/dataset").status_code == 422:
        found = [m for m in log.console_errors if m.startswith(FAILED_LOAD) and "status of 422 " in m]
        assert len(found) <= 1, log.console_errors
        log.console_errors = [m for m in log.console_errors if m not in found]
    log.assert_clean()


def _bounds(page: Page, canvas: str) -> list[list[float]]:
    bounds: list[list[float]] = json.loads(page.get_attribute(canvas, "data-bounds") or "null")
    return bounds


def _to_pixel(bounds: list[list[float]], size: int, point: list[float]) -> tuple[float, float]:
    """Data to canvas pixels, as the page maps them (y grows upwards)."""
    (x0, x1), (y0, y1) = bounds
    return (point[0] - x0) / (x1 - x0) * size, (y1 - point[1]) / (y1 - y0) * size


def _path_points(d: str) -> list[float]:
    """The vertices' coordinates (x0, y0, x1, y1, ...) of an SVG path of straight segments, as
    d3.line writes it."""
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]


def _click(page: Page, canvas: str, fx: float, fy: float) -> tuple[float, float]:
    """Click a canvas at a fraction of its size; returns the pixel clicked."""
    size = page.eval_on_selector(canvas, "c => c.width")
    px, py = round(fx * size), round(fy * size)
    page.click(canvas, position={"x": px, "y": py})
    page.wait_for_selector(READY)
    return px, py


def _shown(page: Page) -> dict[str, Any]:
    """The point the page last answered for, as it shows it and as it sent it."""
    return {
        "point": json.loads(page.get_attribute("#point-xy", "data-point") or "null"),
        "label": page.text_content("#point-label"),
        "nfe": int(page.text_content("#point-nfe") or "-1"),
        "probabilities": json.loads(page.get_attribute("#point-probabilities", "data-values") or "null"),
        "shown_probabilities": [
            float(t) for t in page.locator("#point-probabilities .bar-value").all_text_contents()
        ],
        "curl_body": json.loads(page.get_attribute("#curl", "data-body") or "null"),
        "curl_url": page.get_attribute("#curl", "data-url"),
    }


def _assert_shows_predict(client: httpx.Client, name: str, shown: dict[str, Any]) -> dict[str, Any]:
    """The page shows exactly what predict answers for the body it says it sent."""
    assert shown["curl_body"]["inputs"] == [shown["point"]]
    answer: dict[str, Any] = client.post(f"/v1/models/{name}/predict", json=shown["curl_body"]).json()
    assert shown["label"] == answer["predictions"][0]
    assert shown["probabilities"] == answer["probabilities"][0]
    assert shown["shown_probabilities"] == pytest.approx(answer["probabilities"][0], abs=5e-5)
    assert shown["nfe"] == answer["nfe"][0]
    assert shown["curl_url"] == f"{_base(client)}/v1/models/{name}/versions/{answer['version']}/predict"
    return answer


def test_the_root_redirects_and_the_index_lists_the_models(server: httpx.Client, browser: Browser) -> None:
    root = server.get("/", follow_redirects=False)
    assert root.status_code == 302 and root.headers["location"] == "/ui/"
    assert server.get("/ui", follow_redirects=False).headers["location"] == "/ui/"
    served = [m["name"] for m in server.get("/v1/models").json()["models"]]
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/")
        rows = page.locator("#models tbody tr[data-model]")
        assert [rows.nth(i).get_attribute("data-model") for i in range(rows.count())] == served
        assert page.get_attribute("#models a[href='/ui/models/moons-node']", "href") is not None
        screenshot(page, "ui-index")
        log.assert_clean()


def test_the_surface_is_drawn_in_the_classes_colours(server: httpx.Client, browser: Browser) -> None:
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/models/moons-node")
        bounds = _bounds(page, "#surface")
        grid = server.post(
            "/v1/models/moons-node/grid", json={"bounds": bounds, "resolution": [64, 64]}
        ).json()
        surest: dict[int, tuple[float, list[float]]] = {}  # per class: where the model is surest of it
        for j, row in enumerate(grid["probabilities"]):
            for i, probabilities in enumerate(row):
                c = grid["labels"][j][i]
                if probabilities[c] > surest.get(c, (0.0, []))[0]:
                    surest[c] = (probabilities[c], [grid["xs"][i], grid["ys"][j]])
        assert sorted(surest) == [0, 1], "the box holds both classes"
        pixels = [[min(299, round(v)) for v in _to_pixel(bounds, 300, surest[c][1])] for c in (0, 1)]
        read = page.evaluate(_PIXELS, ["#surface", pixels])
        assert read["distinct"] > 100  # a picture, not a blank or a flat fill
        for c, rgb in enumerate(read["pixels"]):  # each class's region in that class's colour
            near = [math.dist(rgb, class_rgb) for class_rgb in CLASS_RGB]
            assert near[c] < near[1 - c], (c, rgb)
            assert surest[c][0] < 0.99 or near[c] < 40, (c, rgb)
        nfe_values = {n for row in grid["nfe"] for n in row}
        nfe_colours = page.evaluate(_PIXELS, ["#nfe-map", []])["distinct"]  # one colour per NFE, at most
        assert nfe_colours == 1 if len(nfe_values) == 1 else 1 < nfe_colours <= len(nfe_values)
        data = server.get("/v1/models/moons-node/dataset", params={"limit": 400})
        drawn = page.locator("#surface-host svg .data circle").count()
        assert drawn == (len(data.json()["features"]) if data.is_success else 0)
        model = server.get("/v1/models/moons-node").json()
        report = next(v for v in model["versions"] if v["version"] == model["latest_version"]).get("report")
        if report:  # the version's training report, linked when it was built
            assert page.is_visible("#report-link") and page.get_attribute("#report-link", "href") == report
        else:
            assert page.is_hidden("#report-link")
        _assert_clean(log, server, "moons-node")


def test_a_clicked_point_shows_what_predict_and_trajectory_answer(
    server: httpx.Client, browser: Browser
) -> None:
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/models/moons-node")
        bounds = _bounds(page, "#surface")
        px, py = _click(page, "#surface", 0.55, 0.45)
        shown = _shown(page)
        (x0, x1), (y0, y1) = bounds
        assert shown["point"] == pytest.approx(
            [x0 + px / 300 * (x1 - x0), y1 - py / 300 * (y1 - y0)], abs=6e-5
        )
        _assert_shows_predict(server, "moons-node", shown)
        body = {**shown["curl_body"], "num_points": 40}
        states = server.post("/v1/models/moons-node/trajectory", json=body).json()["states"]
        drawn = _path_points(page.get_attribute("#surface-host .paths path", "d") or "")
        expected = [v for s in states for v in _to_pixel(bounds, 300, s[0][:2])]
        assert drawn == pytest.approx(expected, abs=0.01)
        _click(page, "#surface", 0.3, 0.25)
        assert page.locator("#surface-host .paths path").count() == 2  # the first one stays drawn
        assert page.locator("#points li").count() == 2
        _assert_shows_predict(server, "moons-node", _shown(page))
        screenshot(page, "explorer-moons-node")
        _assert_clean(log, server, "moons-node")


def test_changing_the_solver_changes_the_nfe_shown(server: httpx.Client, browser: Browser) -> None:
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/models/moons-node")
        _click(page, "#surface", 0.5, 0.5)
        nfe, grid_mean = {}, {}
        for tolerance in ("1e-3", "1e-7"):
            page.fill("#rtol", tolerance)
            page.fill("#atol", tolerance)
            page.click("#apply-solver")
            page.wait_for_selector(READY)
            shown = _shown(page)
            assert shown["curl_body"]["solver"] == {
                "method": "dopri5",
                "rtol": float(tolerance),
                "atol": float(tolerance),
            }
            nfe[tolerance] = _assert_shows_predict(server, "moons-node", shown)["nfe"][0]
            grid_mean[tolerance] = float(page.get_attribute("#nfe-legend", "data-mean") or "nan")
        assert nfe["1e-7"] > nfe["1e-3"]
        assert grid_mean["1e-7"] > grid_mean["1e-3"]
        page.select_option("#method", "rk4")  # a fixed grid: the step size applies, the tolerances do not
        assert page.is_disabled("#rtol") and page.is_enabled("#step-size")
        page.fill("#step-size", "0.25")
        page.click("#apply-solver")
        page.wait_for_selector(READY)
        shown = _shown(page)
        assert shown["curl_body"]["solver"] == {"method": "rk4", "step_size": 0.25}
        assert _assert_shows_predict(server, "moons-node", shown)["nfe"][0] == 16  # 4 steps of 4 stages
        _assert_clean(log, server, "moons-node")


def test_an_anode_shows_its_augmented_plane(server: httpx.Client, browser: Browser) -> None:
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/models/circles-anode")
        planes = page.locator("#field-plane option").evaluate_all("options => options.map(o => o.value)")
        assert planes == ["0,1", "0,2"]
        page.select_option("#field-plane", "0,2")
        page.wait_for_selector(READY)
        for fx, fy in ((0.5, 0.52), (0.2, 0.3)):
            _click(page, "#surface", fx, fy)
        shown = _shown(page)
        _assert_shows_predict(server, "circles-anode", shown)
        assert page.locator("#field-host .axis-title").all_text_contents() == ["z0", "z2 (augmented)"]
        field = page.evaluate(_PIXELS, ["#field", []])
        assert field["distinct"] > 10  # arrows drawn
        starts = [
            _path_points(d)[:2]
            for d in page.locator("#field-host .paths path").evaluate_all(
                "ps => ps.map(p => p.getAttribute('d'))"
            )
        ]
        assert starts[-1] == pytest.approx(
            _to_pixel(_bounds(page, "#field"), 300, [shown["point"][0], 0.0]), abs=0.01
        )
        screenshot(page, "explorer-circles-anode")
        _assert_clean(log, server, "circles-anode")


def test_the_digits_pad_predicts_a_drawn_digit(server: httpx.Client, browser: Browser) -> None:
    with offline_page(browser, _base(server)) as (page, log):
        _open(page, "/ui/models/digits-anode")
        box = page.locator("#pad").bounding_box()
        assert box is not None and box["width"] == 240  # 8 cells of 30 pixels
        page.mouse.move(box["x"] + 65, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 175, box["y"] + 40, steps=10)  # a 7: the bar...
        page.mouse.move(box["x"] + 100, box["y"] + 215, steps=12)  # ...and the stem
        page.mouse.up()
        page.click("#predict")
        page.wait_for_selector(READY)
        values = json.loads(page.input_value("#pad-values"))
        assert [len(values), len(values[0]), len(values[0][0])] == [1, 8, 8]
        inked = [v for row in values[0] for v in row if v > 0]
        assert len(inked) > 8 and all(v <= 1 and v * 16 == round(v * 16) for v in inked)
        shown = _shown(page)
        assert shown["point"] == values
        answer = _assert_shows_predict(server, "digits-anode", shown)
        if DEMO_READY:  # the demo model reads the stroke as the digit it is
            assert answer["predictions"][0] == "7"
        assert page.locator("#prob-chart path.series").count() == 10
        screenshot(page, "explorer-digits-anode")
        _assert_clean(log, server, "digits-anode")


def test_the_page_asks_for_the_api_key_and_works_once_given(demo_store: Path, browser: Browser) -> None:
    with (
        live_server(demo_store, env={"ODESERVE_API_KEY": API_KEY}) as keyed,
        offline_page(browser, _base(keyed)) as (page, log),
    ):
        keyed.headers["X-API-Key"] = API_KEY  # the test's own calls
        page.goto("/ui/models/moons-node")  # the page itself needs no key; its API calls do
        page.wait_for_selector("#api-key", state="visible")
        page.fill("#api-key", "wrong-key")
        page.click("#key-submit")
        page.wait_for_selector("#key-message:text('refused')")
        page.fill("#api-key", API_KEY)
        page.click("#key-submit")
        page.wait_for_selector(READY, timeout=60_000)
        assert page.is_hidden("#key-form")
        assert page.get_attribute("#surface", "data-drawn") == "surface"
        _click(page, "#surface", 0.5, 0.5)
        shown = _shown(page)
        _assert_shows_predict(keyed, "moons-node", shown)
        curl = page.text_content("#curl") or ""
        assert '"X-API-Key: $ODESERVE_API_KEY"' in curl and API_KEY not in curl  # never printed
        assert page.evaluate("() => [sessionStorage.length, localStorage.length]") == [1, 0]
        report = page.get_attribute("#report-link", "href")
        assert report, "the demo model's report is linked"
        opened = page.request.get(report)  # a plain link: no header, the explorer's cookie
        assert opened.status == 200 and opened.headers["content-type"].startswith("text/html")
        _open(page, "/ui/")  # the key stays for the tab's session: no second prompt
        assert page.locator("#key-form").count() == 0
        assert page.locator("#models tbody tr[data-model]").count() > 0
        refused = [m for m in log.console_errors if "status of 401" in m or "status of 403" in m]
        assert refused, "the first calls met the key check"
        log.console_errors = [m for m in log.console_errors if m not in refused]
        _assert_clean(log, keyed, "moons-node")


def test_the_pages_can_be_turned_off(tmp_path: Path) -> None:
    with live_server(tmp_path, env={"ODESERVE_UI": "false"}) as off:
        for path in ("/ui/", "/ui/models/moons-node", "/ui/static/js/api.js", "/ui/methods.json"):
            answer = off.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["type"] == "not_found"
            assert "ODESERVE_UI=false" in answer.json()["error"]["message"]
        root = off.get("/", follow_redirects=False)
        assert root.status_code == 302 and root.headers["location"] == "/docs"
        assert off.get("/v1/models").status_code == 200  # the JSON API stays


def test_pages_and_files_are_served_safely(server: httpx.Client) -> None:
    page = server.get("/ui/models/moons-node")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert server.get("/ui/models/Not%20A%20Name").json()["error"]["type"] == "invalid_name"
    for escape in ("/ui/static/../routes/ui.py", "/ui/static/%2e%2e/%2e%2e/settings.py", "/ui/static/"):
        assert server.get(escape).status_code == 404, escape
    script = server.get("/ui/static/js/api.js")
    assert script.status_code == 200 and script.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    methods = server.get("/ui/methods.json").json()["methods"]
    assert [m["name"] for m in methods] == list(SERVED_METHODS)
    assert all(m["grid"] == METHODS[m["name"]].grid for m in methods)
    paths = server.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p == "/" or p.startswith("/ui")] == []  # pages are not API


def test_our_files_name_no_other_host() -> None:
    """Everything the pages load comes from the server: no CDN, no font service, no analytics."""
    ours = [p for p in STATIC.rglob("*") if p.is_file() and VENDOR not in p.parents]
    assert {p.suffix for p in ours} == {".html", ".js", ".css"}
    for path in ours:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path


def test_the_vendored_d3_matches_its_pin() -> None:
    pins = (VENDOR / "README.md").read_text()
    folders = sorted(p.name for p in VENDOR.iterdir() if p.is_dir())
    assert folders == ["d3@7.9.0"] and "- d3 7.9.0 (ISC" in pins
    bundle = (VENDOR / "d3@7.9.0/d3.min.js").read_text()
    assert bundle.startswith("// https://d3js.org v7.9.0 ")
    assert "ISC" in pins and "Permission to use, copy, modify" in (VENDOR / "d3@7.9.0/LICENSE").read_text()
    sums = dict(line.split()[::-1] for line in pins.split("## sha256")[1].strip("`\n ").splitlines())
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert set(sums) == {"d3@7.9.0/LICENSE", "d3@7.9.0/d3.min.js"}
    for page in ("index.html", "explorer.html"):
        assert "/ui/static/vendor/d3@7.9.0/d3.min.js" in (STATIC / page).read_text()
    assert ui.STATIC_DIR == STATIC
