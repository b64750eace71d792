"""The built book in Chromium: offline, no console errors, and explorers that compute right.

Every page is opened from a local server with every other request blocked.
The explorers are then driven like a reader would (sliders, keyboard,
buttons) and what they show is compared with helpers.conv and torch.
Screenshots land in _build/screenshots/ (desktop and 390 px wide).
"""

from __future__ import annotations

import math

import pytest
import torch
from playwright.sync_api import expect

from helpers import conv, data, models, widgets
from tests.browser import book
from tests.browser.conftest import PHONE

HTML = book.html_dir()
PAGES = book.pages(HTML)
WIDGETS = book.widgets(HTML)
COUNTS = {page: sum(w.page == page for w in WIDGETS) for page in PAGES}


def of_kind(kind: str) -> list:
    return [pytest.param(w, id=str(w)) for w in WIDGETS if w.kind == kind]


def set_sliders(root, **values) -> None:
    for name, value in values.items():
        root.locator(f'[data-role="{name}"]').fill(str(value))


def test_every_stored_explorer_is_in_the_built_book(html_dir):
    expected = book.expected_widgets(book.source_dir(html_dir))
    assert expected, "no chapter stores an explorer's output (re-run `make execute`?)"
    assert dict(book.Counter(w.page for w in WIDGETS)) == dict(expected)


@pytest.mark.parametrize("path", PAGES)
def test_page_is_offline_and_error_free(open_page, path, screenshot_dir):
    """Every page; on pages with explorers, each drawn once, labelled, and photographed."""
    visit = open_page(path)
    count = COUNTS[path]
    if count:
        visit.widget(count - 1)
        visit.page.wait_for_timeout(300)  # a second render would show up by now
        # exactly one drawing per stored view: the runtime is loaded once
        assert visit.page.locator(".cnnw").count() == count
        unlabelled = visit.page.locator(".cnnw input, .cnnw select").evaluate_all(
            "els => els.filter(e => e.labels.length === 0).map(e => e.outerHTML)")
        assert unlabelled == []
        visit.hide_page_chrome()
        for widget in (w for w in WIDGETS if w.page == path):
            visit.widget(widget.index).screenshot(path=screenshot_dir / f"{widget}-desktop.png")
    visit.assert_clean()


# --------------------------------------------------------------------------
# ConvExplorer
# --------------------------------------------------------------------------

# (n, k, p, s, d) settings to drive through; each list has a case the floor rounds down.
CONV_SETTINGS = [(3, 2, 0, 1, 1), (8, 3, 1, 2, 1), (6, 3, 1, 2, 1), (7, 2, 0, 3, 2), (5, 3, 2, 1, 2), (4, 4, 0, 1, 1)]
POOL_SETTINGS = [(4, 3, 1, 2, 1), (3, 2, 0, 1, 1), (5, 2, 1, 2, 1), (7, 3, 0, 2, 1), (6, 3, 1, 3, 1)]


def setting_of(state: dict) -> tuple:
    return tuple(state[name] for name in ("n", "kernel_size", "padding", "stride", "dilation"))


def check_conv_output(root, state, n, k, p, s, d, mode) -> None:
    size = conv.output_size(n, k, p, s, d)
    expect(root.locator('[data-role="out-size"]')).to_have_text(f"{size} × {size}")
    assert book.shown_size(root) == (size, size)
    want = book.conv_reference(state, n, k, p, s, d, mode).flatten().tolist()
    got = book.cell_values(root.locator('[data-role="output"]'))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (n, k, p, s, d, mode)


@pytest.mark.parametrize("widget", of_kind("ConvExplorer"))
def test_conv_explorer_sizes_and_values_match_torch(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    mode = widget.state["mode"]
    # as stored: the chapter's own numbers (the seed example's)
    check_conv_output(root, widget.state, *setting_of(widget.state), mode)
    floors = 0
    for n, k, p, s, d in CONV_SETTINGS if mode == "conv" else POOL_SETTINGS:
        if mode == "avg":
            d = 1
        set_sliders(root, n=n, kernel_size=k, padding=p, stride=s, dilation=d)
        check_conv_output(root, widget.state, n, k, p, s, d, mode)
        if (n + 2 * p - d * (k - 1) - 1) % s:
            floors += 1
            note = root.locator('[data-role="unused-note"]').inner_text()
            assert "never read" in note and "floor" in note
            assert root.locator('[data-role="input"] .cnnw-unused').count() > 0
    assert floors >= 2
    visit.assert_clean()


@pytest.mark.parametrize("widget", of_kind("ConvExplorer"))
def test_conv_explorer_refuses_settings_that_cannot_work(open_page, widget, screenshot_dir):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    problem = root.locator('[data-role="problem"]')
    expect(problem).to_be_hidden()
    set_sliders(root, n=2, padding=0, dilation=1, kernel_size=5)
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("does not fit")
    expect(root.locator('[data-role="output-none"]')).to_be_visible()
    assert root.locator('[data-role="input"] .cnnw-cell').count() == 4  # the input is still drawn
    visit.hide_page_chrome()
    root.screenshot(path=screenshot_dir / f"{widget}-refused.png")
    if widget.state["mode"] != "conv":  # torch's pooling rule: padding at most half the window
        set_sliders(root, n=5, kernel_size=2, padding=2)
        expect(problem).to_contain_text("at most half the window")
    set_sliders(root, n=5, kernel_size=2, padding=1)
    expect(problem).to_be_hidden()
    expect(root.locator('[data-role="output"]')).to_be_visible()
    visit.assert_clean()


@pytest.mark.parametrize("widget", of_kind("ConvExplorer"))
def test_conv_explorer_keyboard_steps_and_taps(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    n, k, p, s, d = setting_of(widget.state)
    # a slider moved with an arrow key
    stride = root.locator('[data-role="stride"]')
    stride.focus()
    visit.page.keyboard.press("ArrowRight")
    expect(stride).to_have_value(str(s + 1))
    size = conv.output_size(n, k, p, s + 1, d)
    expect(root.locator('[data-role="out-size"]')).to_have_text(f"{size} × {size}")
    # the output grid: one Tab stop, arrow keys move the explained cell
    set_sliders(root, stride=1)
    root.locator('[data-role="output"] [tabindex="0"]').focus()
    expect(root.locator('[data-role="calc"]')).to_contain_text("y[0, 0] =")
    visit.page.keyboard.press("ArrowDown")
    expect(root.locator('[data-role="calc"]')).to_contain_text("y[1, 0] =")
    focused = visit.page.evaluate("document.activeElement.dataset.r + ',' + document.activeElement.dataset.c")
    assert focused == "1,0"
    # step with the buttons, then tap a cell: the lit input cells are its window's taps
    # (dilation 2 spreads the window; average pooling has none; the floor leaves a row unread)
    n, k, p, s, d = (6, 2, 1, 2, 1) if widget.state["mode"] == "avg" else (6, 2, 1, 2, 2)
    set_sliders(root, n=n, kernel_size=k, padding=p, stride=s, dilation=d)
    size = conv.output_size(n, k, p, s, d)
    root.locator('[data-role="output"] .cnnw-cell').first.click()
    root.locator('[data-role="next"]').click()
    expect(root.locator(".cnnw-step-status")).to_contain_text(f"Window 2 of {size * size}")
    last = size * size - 1
    root.locator('[data-role="output"] .cnnw-cell').nth(last).click()
    i, j = divmod(last, size)
    want = sorted((i * s + a * d, j * s + b * d) for a in range(k) for b in range(k))
    lit = root.locator('[data-role="input"] .cnnw-win').evaluate_all(
        "cs => cs.map(c => [Number(c.dataset.r), Number(c.dataset.c)])")
    assert sorted(map(tuple, lit)) == want
    expect(root.locator('[data-role="calc"]')).to_contain_text(f"y[{i}, {j}] =")
    if widget.state["mode"] != "conv":
        # a pooling window has no weights: its panel shows the values the window reads
        # (in kernel order), and max pooling marks the one it keeps
        padded = {(int(c.get_attribute("data-r")), int(c.get_attribute("data-c"))): c.get_attribute("data-value")
                  for c in root.locator('[data-role="input"] .cnnw-cell').all()}
        taps = [(i * s + a * d, j * s + b * d) for a in range(k) for b in range(k)]
        shown = book.cell_values(root.locator('[data-role="kernel"]'))
        assert shown == [float(padded[t]) for t in taps]
        kept = root.locator('[data-role="kernel"] .cnnw-current')
        if widget.state["mode"] == "max":
            assert float(kept.get_attribute("data-value")) == max(shown)
        else:
            assert kept.count() == 0
    visit.assert_clean()


# --------------------------------------------------------------------------
# ChannelExplorer
# --------------------------------------------------------------------------

@pytest.mark.parametrize("widget", of_kind("ChannelExplorer"))
def test_channel_explorer_matches_torch(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    state = widget.state
    C_out, n, k = len(state["K"]), len(state["X"][0]), len(state["K"][0][0])
    for p, s in [(state["padding"], state["stride"]), (1, 2), (2, 3), (0, 1)]:
        set_sliders(root, padding=p, stride=s)
        size = conv.output_size(n, k, p, s)
        assert book.shown_size(root) == (C_out, size, size)
        want = book.channel_reference(state, p, s)
        grids = root.locator('[data-role="output"]')
        assert grids.count() == C_out
        for o in range(C_out):
            assert book.cell_values(grids.nth(o)) == pytest.approx(want[o].flatten().tolist())
    # the per-channel sums for the explained window add up, with the bias, to the output
    set_sliders(root, padding=0, stride=1)
    grids.nth(C_out - 1).locator(".cnnw-cell").first.click()  # last output channel, row 0, column 0
    X, K, b = (torch.tensor(state[name], dtype=torch.float64) for name in ("X", "K", "bias"))
    parts = [float((X[c, :k, :k] * K[-1, c]).sum()) for c in range(len(X))]
    shown = [float(v) for v in root.locator('[data-role="partial"]').evaluate_all("es => es.map(e => e.dataset.value)")]
    assert shown == pytest.approx(parts)
    expect(root.locator('[data-role="calc"]')).to_contain_text(f"= {book.channel_reference(state, 0, 1)[-1, 0, 0]:g}"
                                                                .replace("-", "−"))
    assert math.isclose(sum(parts) + float(b[-1]), float(book.channel_reference(state, 0, 1)[-1, 0, 0]))
    visit.assert_clean()


@pytest.mark.parametrize("widget", of_kind("ChannelExplorer"))
def test_channel_explorer_works_from_the_keyboard(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    n, k = len(widget.state["X"][0]), len(widget.state["K"][0][0])
    p = widget.state["padding"]
    root.locator('[data-role="padding"]').focus()
    visit.page.keyboard.press("ArrowRight")
    size = conv.output_size(n, k, p + 1, widget.state["stride"])
    assert book.shown_size(root)[1:] == (size, size)
    visit.assert_clean()


# --------------------------------------------------------------------------
# KernelPlayground
# --------------------------------------------------------------------------

def check_playground(root, state, kernel, s, p) -> None:
    H2, W2 = conv.output_size((state["height"], state["width"]), 3, p, s)
    expect(root.locator('[data-role="out-size"]')).to_have_text(f"{H2} × {W2}")
    want = book.playground_reference(state, kernel, s, p)
    shown = root.locator('[data-role="range"]')
    assert float(shown.get_attribute("data-min")) == pytest.approx(float(want.min()), abs=1e-9)
    assert float(shown.get_attribute("data-max")) == pytest.approx(float(want.max()), abs=1e-9)


@pytest.mark.parametrize("widget", of_kind("KernelPlayground"))
def test_kernel_playground_matches_torch(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    state = widget.state
    check_playground(root, state, state["kernel"], state["stride"], state["padding"])
    for name, s, p in [("sharpen", 2, 1), ("Sobel y (horizontal edges)", 3, 0), ("box blur", 4, 2)]:
        root.locator('[data-role="preset"]').select_option(name)
        set_sliders(root, stride=s, padding=p)
        check_playground(root, state, state["presets"][name], s, p)
    # typing a weight makes a custom kernel
    weight = root.locator('[data-role="kernel"] input').nth(4)
    weight.fill("-2")
    weight.press("Tab")
    expect(root.locator('[data-role="preset"]')).to_have_value("custom")
    kernel = [row[:] for row in state["presets"]["box blur"]]
    kernel[1][1] = -2.0
    check_playground(root, state, kernel, 4, 2)
    visit.assert_clean()


@pytest.mark.parametrize("widget", of_kind("KernelPlayground"))
def test_kernel_playground_works_from_the_keyboard(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    state = widget.state
    root.locator('[data-role="stride"]').focus()
    visit.page.keyboard.press("ArrowRight")
    check_playground(root, state, state["kernel"], state["stride"] + 1, state["padding"])
    # the output is one Tab stop; arrow keys move the pixel whose value is read out
    want = book.playground_reference(state, state["kernel"], state["stride"] + 1, state["padding"])
    picked = root.locator('[data-role="picked"]')
    root.locator('canvas[data-role="output"]').focus()
    expect(picked).to_contain_text("row 0, column 0")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "Shift+ArrowDown"):
        visit.page.keyboard.press(key)
    expect(picked).to_contain_text("row 9, column 2")
    assert float(picked.get_attribute("data-value")) == pytest.approx(float(want[9, 2]), abs=1e-9)
    expect(root.locator(".cnnw-marker")).to_be_visible()
    visit.assert_clean()


# --------------------------------------------------------------------------
# What a view reports: the traits only the browser writes
# --------------------------------------------------------------------------

def drawn(page) -> dict:
    return page.evaluate("window.widgetState")


def test_views_report_what_they_draw_and_it_equals_torch(browser):
    """Y, error, out_shape, preset and probabilities come from the view; Python's oracle agrees."""
    context = browser.new_context()
    conv_explorer = widgets.ConvExplorer(torch.arange(16.0).reshape(4, 4), mode="max", kernel_size=3,
                                         padding=1, stride=2)
    page, errors = book.render_alone(context, conv_explorer)
    page.wait_for_function("window.widgetState.Y.length === 2")
    conv_explorer.set_state({name: drawn(page)[name] for name in ("Y", "error")})  # as the comm brings them
    assert torch.equal(conv_explorer.drawn_output(), conv_explorer.torch_output())
    set_sliders(page, kernel_size=7)  # no output: the view says why
    page.wait_for_function("window.widgetState.error !== ''")
    assert drawn(page)["error"].startswith("Refused") and drawn(page)["Y"] == []

    channels = widgets.ChannelExplorer()
    page, errors2 = book.render_alone(context, channels)
    set_sliders(page, padding=1, stride=2)
    channels.padding, channels.stride = 1, 2
    page.wait_for_function("window.widgetState.Y[0].length === 2")
    channels.set_state({"Y": drawn(page)["Y"]})
    assert torch.equal(channels.drawn_output(), channels.torch_output())

    playground = widgets.KernelPlayground(size=24)
    page, errors3 = book.render_alone(context, playground)
    page.wait_for_function("window.widgetState.preset !== ''")
    assert drawn(page)["preset"] == "Sobel x (vertical edges)"
    assert drawn(page)["out_shape"] == list(playground.torch_output().shape)
    page.locator('[data-role="preset"]').select_option("sharpen")
    set_sliders(page, padding=1)
    page.wait_for_function("window.widgetState.preset === 'sharpen'")
    playground.kernel, playground.padding = "sharpen", 1
    assert drawn(page)["kernel"] == playground.kernel
    assert drawn(page)["out_shape"] == list(playground.torch_output().shape)
    assert errors == errors2 == errors3 == []
    context.close()


def test_network_view_reports_probabilities_again_after_new_weights(browser):
    """update_model() sends new weights; the view's probabilities follow (they went stale before)."""
    torch.manual_seed(0)
    net = models.LeNet().eval()
    samples = data.load_mnist_subset().test.images[:2]
    explorer = widgets.NetworkExplorer(net, samples=samples, sample_labels=[0, 0], sample=0)
    context = browser.new_context()
    page, errors = book.render_alone(context, explorer)
    page.wait_for_function("window.widgetState.probabilities.length === 10")

    def torch_probabilities(model) -> list[float]:
        with torch.no_grad():
            return model(samples[:1].float().div(255)).softmax(1)[0].tolist()

    assert drawn(page)["probabilities"] == pytest.approx(torch_probabilities(net), abs=1e-5)
    with torch.no_grad():
        net.classifier[-1].bias[3] += 10
    explorer.update_model(net)
    page.evaluate("w => { for (const [k, v] of Object.entries(w)) window.widgetModel.set(k, v); }",
                  {"weights": explorer.weights})
    page.wait_for_function("window.widgetState.probabilities[3] > 0.9")
    assert drawn(page)["probabilities"] == pytest.approx(torch_probabilities(net), abs=1e-5)
    assert errors == []
    context.close()


# --------------------------------------------------------------------------
# How they look
# --------------------------------------------------------------------------

@pytest.mark.parametrize("widget", [pytest.param(w, id=str(w)) for w in WIDGETS])
def test_phone_width(open_page, widget, screenshot_dir):
    """At 390 px the explorer fits the screen, nothing sticks out of it; a screenshot."""
    visit = open_page(widget.page, PHONE)
    root = visit.widget(widget.index)
    visit.hide_page_chrome()
    root.scroll_into_view_if_needed()
    root.screenshot(path=screenshot_dir / f"{widget}-phone.png")
    box = root.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    wider = root.evaluate("""r => [...r.querySelectorAll('*')]
        .filter(e => e.getBoundingClientRect().right > r.getBoundingClientRect().right + 1
                     && !e.parentElement.closest('.cnnw-panel'))
        .map(e => e.outerHTML.slice(0, 80))""")
    assert wider == [], f"sticks out of the widget at phone width: {wider}"
    visit.assert_clean()


# --------------------------------------------------------------------------
# TransposedExplorer
# --------------------------------------------------------------------------

def transposed_reference(state: dict, n, k, s, p, op) -> torch.Tensor:
    X, K = book.grid_values(state["X"], n), book.grid_values(state["K"], k)
    return torch.nn.functional.conv_transpose2d(X[None, None], K[None, None], stride=s, padding=p,
                                                output_padding=op)[0, 0]


@pytest.mark.parametrize("widget", of_kind("TransposedExplorer"))
def test_transposed_explorer_matches_torch_and_refuses_what_torch_refuses(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    state = widget.state
    for n, k, s, p, op in [(2, 2, 1, 0, 0), (3, 3, 2, 0, 0), (3, 3, 2, 1, 1), (4, 2, 3, 2, 2), (5, 4, 2, 1, 0)]:
        set_sliders(root, n=n, kernel_size=k, stride=s, padding=p, output_padding=op)
        want = transposed_reference(state, n, k, s, p, op)
        expect(root.locator('[data-role="out-size"]')).to_have_text(f"{want.shape[0]} × {want.shape[1]}")
        assert book.cell_values(root.locator('[data-role="output"]')) == want.flatten().tolist()
        copies = book.cell_values(root.locator('[data-role="copies"]'))
        ones = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, n, n), torch.ones(1, 1, k, k), stride=s,
                                                    padding=p, output_padding=op)
        assert copies == ones.flatten().tolist()
    set_sliders(root, stride=1, output_padding=1)         # torch refuses it too
    expect(root.locator('[data-role="problem"]')).to_contain_text("smaller than the stride")
    expect(root.locator('[data-role="output-none"]')).to_be_visible()
    visit.assert_clean()


@pytest.mark.parametrize("widget", of_kind("TransposedExplorer"))
def test_transposed_explorer_shows_where_an_input_lands_and_what_reaches_an_output(open_page, widget):
    visit = open_page(widget.page)
    root = visit.widget(widget.index)
    n, k, s, p = 3, 3, 2, 1
    set_sliders(root, n=n, kernel_size=k, stride=s, padding=p, output_padding=0)
    size = (n - 1) * s - 2 * p + k
    lit = lambda role: sorted(root.locator(f'[data-role="{role}"] .cnnw-win').evaluate_all(  # noqa: E731
        "cs => cs.map(c => [Number(c.dataset.r), Number(c.dataset.c)])"))
    # input (1, 2), by the keyboard: its copy's corner at (1*2 - 1, 2*2 - 1), cropped to the output
    first = root.locator('[data-role="input"] [tabindex="0"]')
    first.focus()
    visit.page.keyboard.press("ArrowDown")
    visit.page.keyboard.press("ArrowRight")
    visit.page.keyboard.press("ArrowRight")
    want = sorted([1 * s + a - p, 2 * s + b - p] for a in range(k) for b in range(k)
                  if 0 <= 1 * s + a - p < size and 0 <= 2 * s + b - p < size)
    assert lit("output") == want
    expect(root.locator('[data-role="calc"]')).to_contain_text("x[1, 2]")
    # output (2, 2), tapped: the inputs whose copies cover it, and its sum
    root.locator('[data-role="output"] .cnnw-cell').nth(2 * size + 2).click()
    want = sorted([hh, w] for hh in range(n) for w in range(n)
                  if 0 <= 2 + p - hh * s < k and 0 <= 2 + p - w * s < k)
    assert lit("input") == want
    expect(root.locator('[data-role="calc"]')).to_contain_text("y[2, 2] =")
    visit.assert_clean()
