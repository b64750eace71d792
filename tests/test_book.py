"""Checks on the book's structure that need no kernel: setup cells, TOC, outputs."""

import json
import pathlib
import re

import nbformat
import pytest
import yaml

import helpers
from tools import notebooks

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = notebooks.chapter_paths()


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [ch["file"] for part in toc["parts"] for ch in part["chapters"]]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5


def test_every_setup_cell_is_identical_to_the_template():
    assert notebooks.check(CHAPTERS) == []
    sources = {code_cells(p)[0].source for p in CHAPTERS}
    assert len(sources) == 1


def test_setup_cell_names_the_configured_repository_and_version():
    source = code_cells(CHAPTERS[0])[0].source
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = re.search(r'^BOOK_REPO = "([^"]+)"', source, re.M).group(1)
    version = re.search(r'^BOOK_VERSION = "([^"]+)"', source, re.M).group(1)
    assert url == config["repository"]["url"]
    assert version == helpers.__version__


def test_toc_and_chapters_folder_agree():
    listed = {f for f in toc_files() if f.startswith("chapters/")}
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in CHAPTERS}
    assert listed == on_disk


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_was_executed_top_to_bottom_without_errors(path):
    cells = [c for c in code_cells(path) if c.source.strip()]
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "re-run with `make execute`"
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", f"stored error in {path.name}: {cell.source[:60]!r}"
    assert nbformat.read(path, as_version=4).metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_ignored_outputs_are_asserted_in_code(path):
    """A cell whose output nbval skips must check its result itself."""
    for cell in code_cells(path):
        if "NBVAL_IGNORE_OUTPUT" in cell.source:
            assert re.search(r"^\s*assert\b", cell.source, re.M), (
                f"{path.name}: cell marked NBVAL_IGNORE_OUTPUT has no assert:\n{cell.source}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_goals_summary_and_exercises(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown")
    assert "**Learning goals.**" in text
    assert "## Summary" in text
    assert "## Exercises" in text
    solutions = [c for c in code_cells(path) if "hide-cell" in c.metadata.get("tags", [])]
    prose = text.count("{admonition} Solution")
    assert 3 <= len(solutions) + prose, f"{path.name} needs at least 3 exercise solutions"


def test_notebooks_have_no_execution_timing_metadata():
    # record_timing=False keeps diffs small; timing metadata would churn every run
    for path in CHAPTERS:
        raw = json.loads(path.read_text())
        for cell in raw["cells"]:
            assert "execution" not in cell.get("metadata", {}), path.name


# Numbers the prose may state without a cell printing them: facts from outside the
# book, and settings written differently in code (1e-3 as 0.001). Keep this short.
PROSE_NUMBERS_FROM_ELSEWHERE = {
    "07_cifar10.ipynb": {"0.001"},     # the learning rate, written 1e-3 in code
    "08_lenet_alexnet.ipynb": {"0.001",   # the learning rate, written 1e-3 in code
                               "2000",    # the CI budget's test images, written 2_000
                               "1.28", "1.2"},  # ImageNet's 1.28 million training images
}
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+\.\d+(?:e-?\d+)?)(?![\w])")


def _plain(text: str) -> str:
    return text.replace(",", "").replace("_", "")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_numbers_in_prose_are_computed(path):
    """Every decimal or thousands-separated number in the text appears in a stored
    output (or, for settings, in the code), so re-running a chapter with new
    results cannot leave stale numbers in its prose."""
    nb = nbformat.read(path, as_version=4)
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        shown.append(cell.source)
        for out in cell.outputs:
            if out.output_type == "stream":
                shown.append(out.text)
            elif "data" in out:
                shown += [out.data.get("text/plain", ""), out.data.get("text/html", "")]
    haystack = _plain("\n".join(shown))
    allowed = PROSE_NUMBERS_FROM_ELSEWHERE.get(path.name, set())
    missing = sorted({
        n for cell in nb.cells if cell.cell_type == "markdown"
        for n in map(_plain, NUMBER.findall(cell.source))
        if n not in haystack and n not in allowed
    })
    assert not missing, f"{path.name}: numbers in the prose that no cell shows: {missing}"
