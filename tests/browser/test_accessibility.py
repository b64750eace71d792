"""Pages every reader can read: axe-core finds nothing serious, phones never pan sideways,
figures are described, keyboard focus shows, explorers are one Tab away.

axe-core comes from npm (package.json's devDependencies, installed by `npm ci`)
and is injected into each page from node_modules; nothing is fetched.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import book
from tests.browser.conftest import PHONE

HTML = book.html_dir()
PAGES = [p for p in book.pages(HTML) if p != "index.html"]   # index.html only redirects
AXE = book.ROOT / "node_modules" / "axe-core" / "axe.min.js"
WITH_EXPLORERS = sorted({w.page for w in book.widgets(HTML)})


def serious_violations(page) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci installs axe-core)")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
                 .map(v => `${v.id} (${v.impact}): ${v.nodes.length} node(s), e.g. ${v.nodes[0].target}`);
    }""")
    return found


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_or_critical_violation(open_page, path, viewport):
    visit = open_page(path, **({"viewport": viewport} if viewport else {}))
    visit.page.wait_for_load_state("networkidle")
    assert serious_violations(visit.page) == []


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_wider_than_a_phone(open_page, path):
    visit = open_page(path, viewport=PHONE)
    visit.page.wait_for_load_state("networkidle")
    wide = visit.page.evaluate("""() => {
        const over = [];
        for (const el of document.querySelectorAll("article *")) {
            const r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 1 && getComputedStyle(el).position !== "fixed"
                && !el.closest("pre, .highlight, .cell_output, mjx-container, table, .cnnw, .MathJax"))
                over.push(el.tagName + " " + (el.textContent || "").slice(0, 40));
        }
        return {scroll: document.documentElement.scrollWidth, over: over.slice(0, 5)};
    }""")
    assert wide["scroll"] <= PHONE["width"], wide
    assert wide["over"] == [], wide


@pytest.mark.parametrize("path", PAGES)
def test_no_built_image_is_described_by_its_file_name(open_page, path):
    visit = open_page(path)
    alts = visit.page.locator("article img").evaluate_all("els => els.map(e => e.alt)")
    for alt in alts:
        assert alt.strip(), "an image without alt text"
        assert not re.search(r"\.(png|svg|jpe?g)$|_images/", alt), f"a file name as alt text: {alt}"


def test_keyboard_focus_is_visible_on_the_header_buttons(open_page):
    visit = open_page(PAGES[-1])
    visit.page.keyboard.press("Tab")    # keyboard use: :focus-visible applies from now on
    styles = visit.page.evaluate("""() => {
        const out = [];
        for (const el of document.querySelectorAll(".bd-header-article button, .bd-header-article a.btn")) {
            if (!el.offsetParent) continue;            // not shown at this width
            el.focus();
            const s = getComputedStyle(el);
            out.push([el.getAttribute("aria-label") || el.title || el.textContent.trim(),
                      s.outlineStyle, s.outlineWidth]);
        }
        return out;
    }""")
    assert len(styles) >= 3, styles
    for name, style, width in styles:
        assert style != "none" and width != "0px", f"{name}: no visible focus ({style} {width})"


@pytest.mark.parametrize("path", WITH_EXPLORERS)
def test_a_skip_link_leads_to_the_first_explorer(open_page, path):
    visit = open_page(path)
    visit.widget(0)
    link = visit.page.locator('a[href="#first-explorer"]')
    assert link.count() == 1
    # the target sits just before the first explorer, and nothing but the skip links comes first
    order = visit.page.evaluate("""() => {
        const target = document.getElementById("first-explorer");
        const first = document.querySelector(".cnnw");
        return target.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING;
    }""")
    assert order
    visit.page.keyboard.press("Tab")
    visit.page.keyboard.press("Tab")
    assert visit.page.evaluate("document.activeElement.getAttribute('href')") == "#first-explorer"
    visit.page.keyboard.press("Enter")
    visit.page.keyboard.press("Tab")
    inside = visit.page.evaluate("!!document.activeElement.closest('.cnnw')")
    assert inside, "one Tab after the skip link should reach the explorer's first control"


def test_the_first_page_declares_an_icon_that_exists(open_page):
    visit = open_page("index.html")
    visit.page.wait_for_load_state("networkidle")
    href = visit.page.evaluate("document.querySelector('link[rel=icon]').href")
    response = visit.page.request.get(href)
    assert response.ok, href
    visit.assert_clean()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_one_search_field_on_screen(open_page, viewport):
    for path in ("intro.html", PAGES[-1]):
        visit = open_page(path, **({"viewport": viewport} if viewport else {}))
        # a search field, or on a phone a search icon: both open the search dialog
        shown = visit.page.locator(".search-button__button").evaluate_all(
            "els => els.filter(e => e.offsetParent !== null && e.getBoundingClientRect().width > 0).length")
        assert shown == 1, f"{path}: {shown} search fields or buttons on screen"


def test_the_search_page_icon_does_not_cover_the_query(open_page):
    visit = open_page("search.html")
    box = visit.page.evaluate("""() => {
        const form = document.querySelector(".bd-search-container form.bd-search");
        const icon = form.querySelector("i").getBoundingClientRect();
        const input = form.querySelector("input");
        const textStart = input.getBoundingClientRect().left + parseFloat(getComputedStyle(input).paddingLeft);
        return {iconRight: icon.right, textStart};
    }""")
    assert box["iconRight"] <= box["textStart"], box


def test_mathjax_loads_only_where_there_is_math():
    intro = (HTML / "intro.html").read_text(encoding="utf-8")
    chapter = (HTML / "chapters" / "02_cross_correlation.html").read_text(encoding="utf-8")
    assert "mathjax/startup.js" not in intro and "window.MathJax" not in intro
    assert "mathjax/startup.js" in chapter and "window.MathJax" in chapter
