"""NetworkExplorer in the built book: draw, pick, hover, and the page's JavaScript against torch.

The network the page runs is rebuilt in torch from the weights stored in the
page itself (helpers.models.<architecture> with the exported float32 weights
copied in), so both sides compute with exactly the same numbers. 100 real test
digits (the shipped MNIST subset) go through the page's JavaScript forward pass
and through torch; the logits must agree to 1e-4.
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from helpers import data, models
from helpers.widgets import network_export
from tests.browser import book

HTML = book.html_dir()
EXPLORERS = [pytest.param(w, id=str(w)) for w in book.widgets(HTML) if w.kind == "NetworkExplorer"]


def page_model(state: dict) -> torch.nn.Module:
    """The torch module with the weights stored in the page (float32, as the page decodes them)."""
    model = getattr(models, state["architecture"])()
    weights = network_export.decode(state["weights"], state["dtype"])
    want = network_export.export(model, tuple(state["input_shape"]))
    assert [l["type"] for l in want.layers] == [l["type"] for l in state["layers"]]
    return network_export.load_into(model, state["layers"], weights).eval()


def open_explorer(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    expect(root.locator('[data-role="prediction"]')).not_to_be_empty()
    return visit, root


def stroke(page, root, points) -> None:
    """Draw one stroke through `points` (fractions of the pad's width and height) with the mouse."""
    pad = root.locator('[data-role="pad"]')
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def shown_probabilities(root) -> list[float]:
    return [float(v) for v in root.locator(".cnnw-bar").evaluate_all("rows => rows.map(r => r.dataset.value)")]


def first_map_pixels(root) -> list[int]:
    return root.locator(".cnnw-map").first.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)")


def test_the_chapter_stores_one_network_explorer():
    assert len(EXPLORERS) == 1
    state = EXPLORERS[0].values[0].state
    assert state["architecture"] == "LeNet" and state["dtype"] == "float32"


@pytest.mark.parametrize("widget", EXPLORERS)
def test_js_forward_pass_equals_torch_on_100_test_digits(open_page, widget):
    visit, root = open_explorer(open_page, widget)
    state = widget.state
    model = page_model(state)
    digits = data.load_mnist_subset().test
    x = digits.images[:100].float().div(255).sub(state["mean"]).div(state["std"])   # (100, 1, 28, 28)
    with torch.no_grad():
        want = model(x).double()
    got = torch.tensor(root.evaluate("(r, xs) => xs.map((x) => r.cnnwNetwork.forward(x))",
                                     x.flatten(1).tolist()), dtype=torch.float64)
    error = (got - want).abs().max().item()
    print(f"JS vs torch, 100 test digits: max abs logit difference {error:.2e}")
    assert error <= 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()
    visit.assert_clean()


@pytest.mark.parametrize("widget", EXPLORERS)
def test_drawing_a_stroke_changes_the_maps_and_the_prediction(open_page, widget):
    visit, root = open_explorer(open_page, widget)
    state = widget.state
    n_layers = len(state["layers"])
    assert root.locator(".cnnw-layer").count() == n_layers
    assert root.locator(".cnnw-map").count() == sum(l["shape"][0] for l in state["layers"] if len(l["shape"]) == 3)
    picker = root.locator('[data-role="sample"]')
    expect(picker).to_have_value(str(state["sample"]))                         # a test image first
    before_maps, before_probs = first_map_pixels(root), shown_probabilities(root)
    stroke(visit.page, root, [(0.5, 0.15), (0.52, 0.5), (0.5, 0.85)])          # a 1
    expect(picker).to_have_value("-1")                                         # now the drawing
    expect(root.locator('[data-role="prediction"]')).to_contain_text("Prediction:")
    after_maps, after_probs = first_map_pixels(root), shown_probabilities(root)
    assert after_maps != before_maps and after_probs != before_probs
    assert sum(after_probs) == pytest.approx(1, abs=1e-9)
    # what the bars show is torch's softmax on the prepared drawing the page shows
    pixels = torch.tensor(root.evaluate("r => r.cnnwNetwork.input()"), dtype=torch.float64).view(1, 1, 28, 28)
    assert pixels.max() > 0.5 and pixels.sum() > 10
    with torch.no_grad():
        probs = page_model(state)(((pixels - state["mean"]) / state["std"]).float()).softmax(1)[0]
    assert after_probs == pytest.approx(probs.tolist(), abs=1e-4)
    stroke(visit.page, root, [(0.2, 0.2), (0.8, 0.2), (0.45, 0.85)])           # a 7 over it
    assert shown_probabilities(root) != after_probs
    root.locator('[data-role="clear"]').click()
    expect(root.locator('[data-role="prediction"]')).to_contain_text("Draw a digit above")
    assert root.evaluate("r => r.cnnwNetwork.input()") == [0] * 784
    visit.assert_clean()


@pytest.mark.parametrize("widget", EXPLORERS)
def test_keyboard_picks_a_test_image_and_explores_the_maps(open_page, widget):
    visit, root = open_explorer(open_page, widget)
    state = widget.state
    picker = root.locator('[data-role="sample"]')
    picker.focus()
    expect(picker).to_have_value(str(state["sample"]))
    for i in range(state["sample"] + 1, state["sample"] + 4):
        visit.page.keyboard.press("ArrowDown")
        expect(picker).to_have_value(str(i))
        label = state["sample_labels"][i]
        expect(root.locator('[data-role="prediction"]')).to_contain_text(f"Prediction: {state['classes'][label]}")
    raw = np.frombuffer(base64.b64decode(state["samples"]), dtype=np.uint8).reshape(-1, 784)
    assert root.evaluate("r => r.cnnwNetwork.input()") == pytest.approx((raw[i] / 255).tolist())
    # a feature map with the keyboard: its kernel and its receptive field
    detail = root.locator('[data-role="detail"]')
    root.locator(".cnnw-map").first.focus()
    expect(detail).to_contain_text("rows 12 to 16 and columns 12 to 16 (5×5, outlined on the input)")
    assert root.locator('[data-role="kernel"] canvas').count() == 1       # one input channel
    for _ in range(3):                        # conv1 -> relu -> pool -> conv2
        visit.page.keyboard.press("ArrowDown")
    expect(detail).to_contain_text("14×14")
    assert root.locator('[data-role="kernel"] canvas').count() == 6       # six input channels
    # hover over a map of the last pooling layer: a 16x16 field
    last = root.locator('.cnnw-layer[data-layer="5"] .cnnw-map').first
    last.hover(position={"x": 2, "y": 2})
    expect(detail).to_contain_text("rows -2 to 13 and columns -2 to 13 (16×16")
    visit.assert_clean()


@pytest.mark.parametrize("widget", EXPLORERS)
def test_redraw_while_drawing_takes_under_50_ms_at_the_median(open_page, widget):
    visit, root = open_explorer(open_page, widget)
    root.evaluate("r => { r.cnnwNetwork.timings.length = 0; }")
    gaps = visit.page.evaluate_handle("""() => {
        const gaps = []; let last = performance.now();
        const tick = (t) => { gaps.push(t - last); last = t; if (gaps.length < 100000) requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
        return gaps; }""")
    points = [(0.3 + 0.4 * np.cos(t) * 0.5, 0.5 + 0.35 * np.sin(t)) for t in np.linspace(0, 4 * np.pi, 40)]
    stroke(visit.page, root, points)
    timings = root.evaluate("r => Array.from(r.cnnwNetwork.timings)")
    frames = gaps.evaluate("g => g.slice(1)")
    print(f"{len(timings)} redraws while drawing: median {np.median(timings):.1f} ms, max {max(timings):.1f} ms; "
          f"animation frames: median {np.median(frames):.1f} ms, 95th percentile {np.percentile(frames, 95):.1f} ms")
    print("slowest redraws (ms):", sorted(round(t, 1) for t in timings)[-8:], "first:", [round(t, 1) for t in timings[:5]])
    assert len(timings) >= 10
    # the median, not the maximum: on a shared 2-core machine one redraw can wait for
    # another process however fast the drawing code is (the maximum is printed above)
    assert np.median(timings) < 50
    visit.assert_clean()


@pytest.mark.parametrize("widget", EXPLORERS)
def test_on_a_phone_the_field_stays_in_sight_beside_the_maps(open_page, widget):
    """The input is far above the last layers on a phone: the detail (with its copy of the
    input and the field outlined) sticks to the top of the screen while the maps scroll."""
    from tests.browser.conftest import PHONE

    visit = open_page(widget.page, viewport=PHONE)
    root = visit.widget(widget.index)
    expect(root.locator('[data-role="prediction"]')).not_to_be_empty()
    last = root.locator('.cnnw-layer[data-layer="5"] .cnnw-map').first
    last.scroll_into_view_if_needed()
    last.hover(position={"x": 2, "y": 2})
    thumb = root.locator('[data-role="field-thumb"]')
    expect(thumb).to_be_visible()
    box, map_box = thumb.bounding_box(), last.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], box       # on screen
    assert map_box["y"] + map_box["height"] <= PHONE["height"], map_box             # with the map
    expect(thumb).to_have_attribute("aria-label", re.compile(r"rows -2 to 13"))
    visit.assert_clean()
