"""Fixtures for the browser tests: the built book on a local server, and Chromium.

The tests drive Debian's Chromium (apt package `chromium`) with the PyPI
`playwright` package; never `playwright install`, which downloads a browser.
Every request that leaves the local server is blocked and recorded, and a
test fails if a page attempted one.

    CNN_BOOK_HTML=path/to/html   test another build than _build/html
    CNN_BOOK_CHROMIUM=path       another Chromium binary than /usr/bin/chromium
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import threading

import pytest

from tests.browser import book

CHROMIUM = os.environ.get("CNN_BOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}   # a common phone (the accessibility audit's)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def html_dir() -> pathlib.Path:
    path = book.html_dir()
    if not (path / "index.html").exists():
        pytest.fail(f"no built book at {path}: run `make book` first (`make test` does)")
    return path


@pytest.fixture(scope="session")
def origin(html_dir):
    """http://127.0.0.1:PORT serving the built book, for the whole session."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. The browser tests need Debian's chromium: "
            "`sudo apt-get install chromium` (.ci/run installs it). "
            "Do not run `playwright install`; set CNN_BOOK_CHROMIUM to use another binary."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, origin):
    """open_page(path, viewport=DESKTOP) -> book.Visit; checks nothing left the server."""
    contexts = []

    def _open(path: str, viewport: dict = DESKTOP) -> book.Visit:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        return book.Visit(context, origin, path)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(html_dir) -> pathlib.Path:
    """_build/screenshots/ (next to the HTML; git ignores _build/)."""
    path = html_dir.parent / "screenshots"
    path.mkdir(exist_ok=True)
    return path
