"""What a page costs to load: bytes, the widget runtime only where it is needed, MathJax, icons.

benchmarks/page_weight.py measures the same things with timings; here only what
does not depend on the machine is asserted.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser import book

HTML = book.html_dir()
PAGES = book.pages(HTML)
WITH_WIDGETS = sorted({w.page for w in book.widgets(HTML)})
BUDGET = 3_000_000  # bytes a chapter page with an explorer may transfer, cold
NETWORK_STATE_BUDGET = 1_000_000  # bytes a NetworkExplorer (weights, test images, code) adds to its page


def cold_load(browser, origin, path):
    """(bytes transferred, request URLs, page) for a load with an empty cache; nothing leaves the server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin + "/") else r.abort())
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes, urls = {}, []
    cdp.on("Network.requestWillBeSent", lambda e: urls.append(e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(f"{origin}/{path}", wait_until="networkidle")
    return sum(sizes.values()), urls, page


@pytest.mark.parametrize("path", WITH_WIDGETS)
def test_a_page_with_explorers_loads_under_3_mb_and_only_the_small_runtime(browser, origin, path):
    weight, urls, page = cold_load(browser, origin, path)
    expect(page.locator(".cnnw").first).to_be_visible()
    page.context.close()
    assert weight <= BUDGET, f"{path} transferred {weight:,} bytes cold"
    widget_files = sorted({u.split("/cnnbook/widgets/")[1].split("?")[0] for u in urls if "/cnnbook/widgets/" in u})
    assert widget_files == ["loader.js"]  # no require.js, no 3.6 MB embed-amd.js for anywidgets
    assert not any("fontawesome.js" in u for u in urls)


@pytest.mark.parametrize("widget", [pytest.param(w, id=str(w)) for w in book.widgets(HTML)
                                    if w.kind == "NetworkExplorer"])
def test_a_network_explorer_adds_at_most_1_mb_of_widget_state(widget):
    added = len(json.dumps(widget.state).encode())
    print(f"{widget}: widget state {added:,} bytes")
    assert added <= NETWORK_STATE_BUDGET, f"{widget} stores {added:,} bytes of widget state"


@pytest.mark.parametrize("path", [p for p in PAGES if p not in WITH_WIDGETS])
def test_a_page_without_widgets_loads_no_widget_runtime(browser, origin, path):
    _, urls, page = cold_load(browser, origin, path)
    page.context.close()
    assert not [u for u in urls if "/cnnbook/widgets/" in u]


def test_math_is_typeset_and_icons_drawn_without_the_combined_mathjax_or_fontawesome_js(browser, origin):
    path = "chapters/03_padding_stride.html"
    _, urls, page = cold_load(browser, origin, path)
    expect(page.locator("mjx-container").first).to_be_attached(timeout=20_000)
    assert page.locator(".math mjx-container").count() == page.locator(".math").count() > 0
    # assistive MathML for screen readers is still there
    assert page.locator("mjx-assistive-mml").count() > 0
    font = page.evaluate("getComputedStyle(document.querySelector('.fa-bars'), '::before').fontFamily")
    assert "Font Awesome" in font
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    page.context.close()
    assert not any("tex-mml-chtml.js" in u or "ui/menu.js" in u for u in urls)


def test_other_widgets_get_the_full_html_manager_runtime(browser, origin, html_dir, tmp_path):
    """A page with a plain ipywidgets slider: the loader falls back to require.js + embed-amd.js."""
    import ipywidgets
    from ipywidgets.embed import embed_data

    slider = ipywidgets.IntSlider(value=7, max=10, description="seven")
    data = embed_data(views=[slider])
    folder = html_dir / "_cnnbook_test"
    folder.mkdir(exist_ok=True)
    page_path = folder / "fallback.html"
    page_path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<script defer src='../_static/cnnbook/widgets/loader.js'></script></head><body>"
        f"<script type='application/vnd.jupyter.widget-state+json'>{json.dumps(data['manager_state'])}</script>"
        f"<div><script type='application/vnd.jupyter.widget-view+json'>{json.dumps(data['view_specs'][0])}"
        "</script></div></body></html>")
    try:
        context = browser.new_context()
        errors = []
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin + "/") else r.abort())
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{origin}/_cnnbook_test/fallback.html")
        expect(page.locator(".widget-readout")).to_have_text("7", timeout=30_000)
        expect(page.locator(".widget-label", has_text="seven")).to_be_visible()
        assert errors == []
        context.close()
    finally:
        page_path.unlink()
        folder.rmdir()
