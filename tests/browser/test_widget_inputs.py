"""Explorer inputs a reader can get wrong, driven in Chromium on a blank page.

Unlike test_book_pages.py these need no built book: the explorer's bundle
(what anywidget sends to the browser) is rendered with a small stand-in for
the widget model, so a typed value can be checked against the model state.
"""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

from helpers import widgets
from tests.browser import book


@pytest.fixture
def playground(browser):
    w = widgets.KernelPlayground(torch.linspace(0, 1, 144).reshape(12, 12), kernel="box blur")
    context = browser.new_context()
    page, errors = book.render_alone(context, w)
    expect(page.locator('[data-role="out-size"]')).to_have_text("10 × 10")
    yield page
    assert errors == []
    context.close()


@pytest.mark.parametrize("typed", ["1e999", "", "-1e400"])
def test_a_weight_that_is_no_finite_number_is_restored_and_explained(playground, typed):
    page = playground
    box = page.locator('[data-role="kernel"] input').nth(4)
    box.fill(typed)
    box.press("Tab")
    problem = page.locator('[data-role="problem"]')
    expect(problem).to_be_visible()
    expect(problem).to_have_text("Weight row 1, column 1 needs a finite number; it stays 0.11.")
    expect(box).to_have_value("0.111")  # the weight in use, shown again
    assert page.evaluate("window.widgetState.kernel[1][1]") == pytest.approx(1 / 9)
    assert page.evaluate("window.widgetState.preset") == "box blur"
    box.fill("2")  # a good value is taken and the message goes away
    box.press("Tab")
    expect(problem).to_be_hidden()
    assert page.evaluate("window.widgetState.kernel[1][1]") == 2
    assert page.evaluate("window.widgetState.preset") == "custom"
