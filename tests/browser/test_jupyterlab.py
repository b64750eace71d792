"""An explorer in a real JupyterLab and Notebook 7: the keyboard moves the slider, not the notebook.

The test starts JupyterLab (pip `jupyterlab`; the same server also serves
Notebook 7, pip `notebook`) on a free local port without a token, in a
throwaway folder holding a copy of chapter 5 per app and a link to helpers/,
runs every cell from the Run menu, presses arrow keys on the explorer's
stride slider and in its output grid, and reads the widget's trait back in
Python from a new cell. Without `data-lm-suppress-shortcuts` on the controls
(helpers/widgets/ui.js), JupyterLab takes ArrowUp to select the cell above
and the slider does not move.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser import book

CHAPTER = "05_pooling.ipynb"  # one ConvExplorer, `pool_explorer`, stride 2
WIDGET, TRAIT, START = "pool_explorer", "stride", 2
APPS = {"jupyterlab": "lab/tree/jupyterlab/", "notebook7": "notebooks/notebook7/"}  # URL of a notebook


# NetworkExplorer with a live model: an untrained LeNet whose weights the test changes.
LIVE_MODEL = """import pathlib, sys
sys.path.insert(0, str(pathlib.Path.cwd().parent))  # the folder with helpers/, as the setup cell does
import torch
from helpers import models, widgets
torch.manual_seed(0)
net = models.LeNet().eval()
explorer = widgets.NetworkExplorer(net)
explorer"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """http://127.0.0.1:PORT of a JupyterLab serving a folder with the chapter and helpers/."""
    work = tmp_path_factory.mktemp("lab")
    for app in APPS:  # a copy per app, so that each runs its own
        (work / app).mkdir()
        shutil.copy(book.ROOT / "chapters" / CHAPTER, work / app / CHAPTER)
    (work / "helpers").symlink_to(book.ROOT / "helpers")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LIVE_MODEL)],
                                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}}),
                   work / "jupyterlab" / "network.ipynb")
    home = work / ".home"
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # draw every cell, not only those in view, so the test can wait for the explorer's
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "OMP_NUM_THREADS": "1"}
    log = open(work / ".home" / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--IdentityProvider.token=", f"--ServerApp.root_dir={work}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url=None",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{origin}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield origin
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def active_cell(page) -> int:
    return page.evaluate("[...document.querySelectorAll('.jp-Notebook .jp-Cell')]"
                         ".findIndex(c => c.classList.contains('jp-mod-active'))")


@pytest.mark.parametrize("app", APPS)
def test_arrow_keys_move_the_explorer_slider_and_grid(browser, lab, app):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    # nothing may leave the machine; JupyterLab's own requests go to the local server
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab)
                  else route.abort())
    page = context.new_page()
    page.goto(f"{lab}/{APPS[app]}{CHAPTER}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)

    # a fresh JupyterLab may ask which kernel to start: the notebook's own (Python 3)
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.wait_for(timeout=10_000)
        select.click()
    except PlaywrightTimeout:
        pass
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    page.get_by_text("Run", exact=True).first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    slider = page.locator(f'.cnnw [data-role="{TRAIT}"]').first
    slider.wait_for(state="attached", timeout=180_000)
    # every cell has run: numbered prompts only, none waiting ([*]) or unrun ([ ])
    expect(page.locator(".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[[ *]\]"))).to_have_count(
        0, timeout=180_000)
    slider.scroll_into_view_if_needed()
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    expect(slider).to_have_value(str(START))
    slider.focus()
    cell = active_cell(page)
    page.keyboard.press("ArrowUp")
    expect(slider).to_have_value(str(START + 1))
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_value(str(START + 2))
    page.keyboard.press("ArrowDown")
    expect(slider).to_have_value(str(START + 1))
    assert active_cell(page) == cell, "the arrow keys moved the notebook's cell selection"
    assert page.evaluate("document.activeElement.dataset.role") == TRAIT
    assert slider.get_attribute("data-lm-suppress-shortcuts") == ""
    # the output grid: arrow keys move between its cells (one Tab stop)
    page.locator('.cnnw [data-role="output"] [tabindex="0"]').first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("[document.activeElement.dataset.r, document.activeElement.dataset.c]") == ["0", "1"]
    page.keyboard.press("ArrowDown")
    assert page.evaluate("[document.activeElement.dataset.r, document.activeElement.dataset.c]") == ["1", "1"]
    assert active_cell(page) == cell, "the arrow keys moved the notebook's cell selection"

    # the kernel has the value the slider shows: ask in a new cell at the end
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(f"print('{TRAIT} =', {WIDGET}.{TRAIT})")
    page.keyboard.press("Shift+Enter")
    new = page.locator(".jp-Notebook .jp-Cell").nth(-2)  # Shift+Enter adds one more below
    expect(new.locator(".jp-OutputArea-output")).to_have_text(f"{TRAIT} = {START + 1}", timeout=30_000)
    context.close()


def run_all(page, lab, path):
    page.goto(f"{lab}/{path}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.wait_for(timeout=10_000)
        select.click()
    except PlaywrightTimeout:
        pass
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    page.get_by_text("Run", exact=True).first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()


def run_new_cell(page, source: str):
    """Add a cell at the end, type `source` and run it; returns the new cell."""
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(source)
    page.keyboard.press("Shift+Enter")
    return page.locator(".jp-Notebook .jp-Cell").nth(-2)  # Shift+Enter adds one more below


def test_network_explorer_follows_the_python_model(browser, lab):
    """Changing the model's weights in Python and calling update_model redraws the view."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab)
                  else route.abort())
    page = context.new_page()
    run_all(page, lab, "lab/tree/jupyterlab/network.ipynb")
    verdict = page.locator('.cnnw-network [data-role="prediction"]')
    try:
        verdict.wait_for(state="attached", timeout=120_000)
    except PlaywrightTimeout:
        pytest.fail("no explorer drawn; the notebook shows: "
                    + page.locator(".jp-Notebook").inner_text()[-1500:])
    before = verdict.get_attribute("data-best")
    target = "3" if before != "3" else "5"
    changed = run_new_cell(page, f"net.classifier[5].bias.data[{target}] += 100; "
                                 "explorer.update_model(net); print('updated')")
    expect(changed.locator(".jp-OutputArea-output")).to_have_text("updated", timeout=30_000)
    expect(verdict).to_have_attribute("data-best", target, timeout=30_000)
    # the view reports its probabilities back to the kernel after a stroke
    pad = page.locator('.cnnw-network [data-role="pad"]')
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 20, steps=10)
    page.mouse.up()
    new = run_new_cell(page, "print(len(explorer.probabilities), round(sum(explorer.probabilities), 6))")
    expect(new.locator(".jp-OutputArea-output")).to_have_text("10 1.0", timeout=30_000)
    context.close()
