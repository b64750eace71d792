"""What the browser tests know about the built book: pages, widgets, references.

Widgets are found the way the page itself finds them: each
`application/vnd.jupyter.widget-view+json` script names a model in the
page's widget state, and the explorers' models carry
`_anywidget_id = "helpers.widgets.<module>.<Class>"`. Their views render in page
order, so the n-th such view is the n-th `.cnnw` element.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import pathlib
import re
from collections import Counter

import nbformat
import numpy as np
import torch
import torch.nn.functional as F
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
PREFIX = "helpers.widgets."
_STATE = re.compile(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S)
_VIEW = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)


def html_dir() -> pathlib.Path:
    """The built HTML: $CNN_BOOK_HTML, or _build/html in this repository."""
    return pathlib.Path(os.environ.get("CNN_BOOK_HTML", ROOT / "_build" / "html")).resolve()


def source_dir(html: pathlib.Path) -> pathlib.Path:
    """The book source that `html` was built from (<source>/_build/html)."""
    return html.parent.parent


def pages(html: pathlib.Path) -> list[str]:
    """Every page of the book, as paths relative to the HTML root."""
    if not html.is_dir():
        return []
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


@dataclasses.dataclass
class Widget:
    page: str  # e.g. chapters/03_padding_stride.html
    index: int  # its place among the explorers on that page
    kind: str  # ConvExplorer, ChannelExplorer or KernelPlayground
    state: dict  # the stored trait values

    def __str__(self) -> str:
        return f"{pathlib.PurePosixPath(self.page).stem}-{self.index}-{self.kind}"


def _explorers(views: list[str], state: dict) -> list[tuple[str, dict]]:
    found = []
    for view in views:
        model = state.get(json.loads(view)["model_id"], {}).get("state", {})
        name = model.get("_anywidget_id", "")
        if name.startswith(PREFIX):  # helpers.widgets.<module>.<Class>
            found.append((name.rsplit(".", 1)[1], model))
    return found


def widgets(html: pathlib.Path) -> list[Widget]:
    """Every explorer on every built page, in page order."""
    found = []
    for page in pages(html):
        text = (html / page).read_text(encoding="utf-8")
        match = _STATE.search(text)
        if not match:
            continue
        state = json.loads(match.group(1))["state"]
        for index, (kind, model) in enumerate(_explorers(_VIEW.findall(text), state)):
            found.append(Widget(page, index, kind, model))
    return found


def expected_widgets(source: pathlib.Path) -> Counter:
    """How many explorers each chapter's stored outputs hold: {page.html: count}."""
    toc = yaml.safe_load((source / "_toc.yml").read_text())
    counts = Counter()
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            path = source / (chapter["file"] + ".ipynb")
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            state = nb.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})
            views = [json.dumps(out["data"][VIEW_MIME]) for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.outputs if VIEW_MIME in out.get("data", {})]
            if n := len(_explorers(views, state)):
                counts[chapter["file"] + ".html"] = n
    return counts


# --------------------------------------------------------------------------
# A page open in Chromium
# --------------------------------------------------------------------------

class Visit:
    """One page in its own browser context; records blocked requests and console errors."""

    def __init__(self, context, origin: str, path: str):
        self.origin = origin
        self.blocked: list[str] = []
        self.errors: list[str] = []
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.goto(f"{origin}/{path}", wait_until="load")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def widget(self, index: int):
        """The index-th explorer's root element, once drawn."""
        root = self.page.locator(".cnnw").nth(index)
        root.wait_for(timeout=20_000)
        return root

    def assert_clean(self) -> None:
        assert not self.blocked, f"requests left the book's own server: {self.blocked}"
        assert not self.errors, f"console errors: {self.errors}"

    def hide_page_chrome(self) -> None:
        """Hide the theme's sticky bars so element screenshots show only the widget."""
        self.page.add_style_tag(content=".bd-header, .bd-header-article, .skip-link,"
                                        " .header-article { display: none !important; }")


# A stand-in for the widget model: enough for a view to render, save and report
# (window.widgetState holds the traits, window.widgetModel sets one as Python would).
_STUB_MODEL = """
const state = JSON.parse(document.getElementById("state").textContent);
const handlers = {};
const model = {
  get: (name) => state[name],
  set: (name, value) => { state[name] = value; (handlers[`change:${name}`] || []).forEach((f) => f()); },
  on: (event, f) => { (handlers[event] ||= []).push(f); },
  off: () => {},
  save_changes: () => {},
};
window.widgetState = state;
window.widgetModel = model;
render({ model, el: document.getElementById("root") });
"""


def render_alone(context, widget) -> tuple:
    """(page, errors): a Python explorer's bundle rendered on a blank page, no book, no kernel."""
    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")}
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content('<div id="root"></div><script type="application/json" id="state">'
                     + json.dumps(state).replace("</", "<\\/") + "</script>")
    page.add_script_tag(content=widget._esm + "\n" + _STUB_MODEL, type="module")
    page.locator(".cnnw").wait_for()
    return page, errors


def cell_values(grid) -> list[float]:
    """The data-value of every cell of a grid locator, row by row."""
    return [float(v) for v in grid.locator(".cnnw-cell").evaluate_all("cs => cs.map(c => c.dataset.value)")]


def shown_size(root) -> tuple[int, ...]:
    """The numbers in the widget's out-size text, e.g. '3 × 3' -> (3, 3)."""
    return tuple(int(v) for v in re.findall(r"\d+", root.locator('[data-role="out-size"]').inner_text()))


# --------------------------------------------------------------------------
# What torch says
# --------------------------------------------------------------------------

def grid_values(given: list, size: int) -> torch.Tensor:
    """The explorer's rule: the given grid when its size matches, else 0, 1, 2, ..."""
    if len(given) == size:
        return torch.tensor(given, dtype=torch.float64)
    return torch.arange(size * size, dtype=torch.float64).reshape(size, size)


def conv_reference(state: dict, n, k, p, s, d, mode) -> torch.Tensor:
    """torch's output for a ConvExplorer state at one setting: (n', n') float64."""
    x = grid_values(state["X"], n)[None, None]
    if mode == "conv":
        y = F.conv2d(x, grid_values(state["K"], k)[None, None], stride=s, padding=p, dilation=d)
    elif mode == "max":
        y = F.max_pool2d(x, k, stride=s, padding=p, dilation=d)
    else:
        y = F.avg_pool2d(x, k, stride=s, padding=p)
    return y[0, 0]


def channel_reference(state: dict, p: int, s: int) -> torch.Tensor:
    """torch's output for a ChannelExplorer state: (C_out, n', n') float64."""
    X, K, b = (torch.tensor(state[name], dtype=torch.float64) for name in ("X", "K", "bias"))
    return F.conv2d(X[None], K, b, stride=s, padding=p)[0]


def playground_reference(state: dict, kernel, s: int, p: int) -> torch.Tensor:
    """torch's filtered photo for a KernelPlayground state: (H', W') float64."""
    pixels = np.frombuffer(base64.b64decode(state["image"]), dtype=np.uint8)
    img = torch.from_numpy(pixels.reshape(state["height"], state["width"]).astype(np.float64) / 255)
    K = torch.tensor(kernel, dtype=torch.float64)
    return F.conv2d(img[None, None], K[None, None], stride=s, padding=p)[0, 0]
