"""Fixtures for the browser test: the built site served on 127.0.0.1, and headless Debian Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's chromium (or $CHROMIUM): Playwright's own browser download does not work offline."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (SITE / "intro.html").exists():
        pytest.fail(f"{SITE} has no built book: run `make book` (or `make build-check`) first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail("chromium is not installed: `make install` installs Debian's package (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, site_url):
    """Open a site page with every non-local request blocked; returns (page, problems).

    ``dark=True`` opens it in the theme's dark mode, as a reader who chose it sees it.
    """
    contexts = []

    def _open(path: str, width: int = 1280, height: int = 900, dark: bool = False):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light"
        )
        contexts.append(context)
        if dark:  # what the theme's light/dark switch stores
            context.add_init_script("localStorage.setItem('mode', 'dark')")
        problems: list[str] = []

        def route(route):
            if route.request.url.startswith(site_url):
                route.continue_()
            else:
                problems.append(f"blocked external request: {route.request.url}")
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        def on_console(msg):
            if msg.type == "error":
                problems.append(f"console {msg.type}: {msg.text}")

        def on_request_failed(request):
            if request.url.startswith(site_url):  # external ones are blocked on purpose, reported above
                problems.append(f"failed request: {request.url}")

        def on_response(response):
            if response.status >= 400:
                problems.append(f"HTTP {response.status}: {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        page.on("requestfailed", on_request_failed)
        page.on("response", on_response)
        page.goto(f"{site_url}/{path}", wait_until="load")
        page.evaluate("() => (window.MathJax && MathJax.startup) ? MathJax.startup.promise : null")
        return page, problems

    yield _open
    for context in contexts:
        context.close()
