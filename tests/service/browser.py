"""A real browser for page tests: Debian's ``chromium`` driven by Playwright, offline but for the server.

Playwright cannot download its own browser on these machines, so it launches the system binary
through ``executable_path``. Every request the page makes to anything but the server under test is
aborted and recorded (the pages must work with no internet), console errors and uncaught page
errors are collected, and screenshots land in the run's artefacts folder (``test-artefacts/`` in the
checkout, or ``$ODESERVE_TEST_ARTEFACTS``), where a person can look at them after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("ODESERVE_TEST_ARTEFACTS", REPO / "test-artefacts"))


def chromium_path() -> str:
    """The system chromium (``.ci/tools`` installs it); a clear failure when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path is not None, "no chromium on PATH: run .ci/tools (Debian package chromium)"
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless chromium for a module's tests (start it with a module-scoped fixture)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What a page did besides drawing: its console errors, page errors and refused requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.console_errors, self.console_errors
        assert not self.page_errors, self.page_errors
        assert not self.blocked, f"the page reached beyond the server: {self.blocked}"


@contextmanager
def offline_page(
    browser: Browser, base_url: str, *, headers: dict[str, str] | None = None
) -> Iterator[tuple[Page, PageLog]]:
    """A fresh page that may reach ``base_url`` and nothing else; yields it with its log."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, extra_http_headers=headers
    )
    log = PageLog()

    def gate(route: Route) -> None:
        url = route.request.url
        if url.startswith(base_url) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            log.console_errors.append(message.text)

    context.route("**/*", gate)
    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    try:
        yield page, log
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``<artefacts>/screenshots/<name>.png``; returns its path."""
    path = ARTEFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
