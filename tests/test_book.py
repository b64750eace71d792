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
    """A cell whose output nbval skips must check its result itself, or be followed
    by a check cell (tagged remove-input, so readers see the result, not the plumbing)."""
    cells = code_cells(path)
    for cell, after in zip(cells, cells[1:] + [None]):
        if "NBVAL_IGNORE_OUTPUT" in cell.source:
            checked_here = re.search(r"^\s*assert\b", cell.source, re.M)
            checked_next = (after is not None and "remove-input" in after.metadata.get("tags", [])
                            and re.search(r"^\s*assert\b", after.source, re.M))
            assert checked_here or checked_next, (
                f"{path.name}: cell marked NBVAL_IGNORE_OUTPUT has no assert, and no "
                f"remove-input check cell follows it:\n{cell.source}")


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


# Numbers the prose may state without a cell printing them: settings written
# differently in code (1e-3 as 0.001) and the like. Keep this short.
PROSE_NUMBERS_FROM_ELSEWHERE = {
    "06_mnist.ipynb": {"3000", "2000",  # the CI budget's training and test images (3_000, 2_000)
                       "20000"},        # the pixel-shuffle experiment's training digits (20_000)
    "07_cifar10.ipynb": {"0.001"},     # the learning rate, written 1e-3 in code
    "08_lenet_alexnet.ipynb": {"0.001",   # the learning rate, written 1e-3 in code
                               "2000"},   # the CI budget's test images, written 2_000
}
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+\.\d+(?:e-?\d+)?)(?![\w])")
# A figure typed in from a paper or a published run is not computed. The code line
# that types it in carries a `# quoted` comment, and the prose that states it must
# say it is quoted, with one of these words in the same markdown cell.
QUOTED_MARK = re.compile(r"#\s*quoted\b")
QUOTE_WORDS = ("quoted", "reported", "reports", "published", "publishes", "the paper")
LITERAL = re.compile(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?")


def _plain(text: str) -> str:
    return text.replace(",", "").replace("_", "")


def _variants(literal: str) -> set[str]:
    """A typed-in number as prose may write it: 0.8292 also as 82.92 (a percentage)."""
    n = _plain(literal)
    out = {n}
    if re.fullmatch(r"\d+\.\d+", n):
        out.add(f"{float(n) * 100:.{max(len(n.split('.')[1]) - 2, 0)}f}")
    return out


def prose_numbers(path):
    """(computed, quoted, missing): the prose's numbers sorted by where a cell shows them."""
    nb = nbformat.read(path, as_version=4)
    shown, quoted_literals = [], set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if QUOTED_MARK.search(line):
                for lit in LITERAL.findall(line.split("#", 1)[0]):
                    quoted_literals |= _variants(lit)
        for out in cell.outputs:
            if out.output_type == "stream":
                shown.append(out.text)
            elif "data" in out:
                shown += [out.data.get("text/plain", ""), out.data.get("text/html", "")]
    haystack = _plain("\n".join(shown))
    allowed = PROSE_NUMBERS_FROM_ELSEWHERE.get(path.name, set())
    computed, quoted, missing = set(), {}, set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for n in map(_plain, NUMBER.findall(cell.source)):
            if n in quoted_literals:
                quoted[n] = quoted.get(n, True) and any(w in cell.source.lower() for w in QUOTE_WORDS)
            elif n in haystack or n in allowed:
                computed.add(n)
            else:
                missing.add(n)
    return computed, quoted, missing


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_numbers_in_prose_are_computed(path):
    """Every decimal or thousands-separated number in the text appears in a stored
    cell output, so re-running a chapter with new results cannot leave stale
    numbers in its prose. Figures typed in from elsewhere (marked `# quoted` in
    the cell that prints them) must be labelled as quoted where the prose states them."""
    computed, quoted, missing = prose_numbers(path)
    assert not missing, f"{path.name}: numbers in the prose that no cell shows: {sorted(missing)}"
    unlabelled = sorted(n for n, labelled in quoted.items() if not labelled)
    assert not unlabelled, (f"{path.name}: quoted figures stated in prose that does not say they "
                            f"are quoted (use one of {QUOTE_WORDS}): {unlabelled}")


def test_prose_number_check_tells_computed_from_quoted(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("acc = 0.9123\nprint(acc)\nold = 0.8292  # quoted\nprint(old)",
                                  outputs=[nbformat.v4.new_output("stream", text="0.9123\n0.8292\n")]),
        nbformat.v4.new_markdown_cell("We reach 0.9123, against the 82.92% reported elsewhere."),
        nbformat.v4.new_markdown_cell("Again 0.8292, and 0.5555 from nowhere; lr = 1,000."),
    ])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    computed, quoted, missing = prose_numbers(path)
    assert computed == {"0.9123"}
    assert quoted == {"82.92": True, "0.8292": False}
    assert missing == {"0.5555", "1000"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_paragraph_breaks_in_mid_sentence(path):
    """A blank line between a word and a lowercase word splits one sentence into two paragraphs."""
    broken = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"^(?!#)(.*[a-z,])\n\n([a-z].*)$", cell.source, re.M):
            broken.append(f"{m.group(1)[-40:]} / {m.group(2)[:40]}")
    assert not broken, f"{path.name}: paragraphs broken in mid-sentence: {broken}"


def test_test_files_have_unique_names():
    """pytest imports test files without packages by their base name: two alike collide."""
    root = pathlib.Path(__file__).parent
    names = [p.name for p in root.rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# --------------------------------------------------------------------------- figures

PAGE_COLUMN_PX = 688   # the text column of a page at 1280 px (the theme's article width)
SMALLEST_TEXT_PX = 9   # the smallest figure text a reader gets on that column


def figures(path):
    """(cell, PNG width in pixels, width the page shows it at) for every figure of a chapter."""
    import base64
    import struct
    for cell in code_cells(path):
        for out in cell.outputs:
            if "image/png" in out.get("data", {}):
                png = base64.b64decode(out["data"]["image/png"])
                width = struct.unpack(">I", png[16:20])[0]
                shown = out.get("metadata", {}).get("image/png", {}).get("width", width)
                yield cell, width, shown


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_figure_text_is_at_least_9_px_and_sharp_on_2x_screens(path):
    """The smallest text a figure can hold (plot.MIN_FONT points at 100 dpi) times the factor
    the page shrinks the figure by is at least 9 px; each PNG has twice the pixels it is
    shown at (plot.use_book_style)."""
    from helpers import plot
    for cell, width, shown in figures(path):
        smallest = plot.MIN_FONT * 100 / 72 * min(1.0, PAGE_COLUMN_PX / shown)
        assert smallest >= SMALLEST_TEXT_PX, (
            f"cell {cell.id}: a figure {shown} px wide is shrunk to the {PAGE_COLUMN_PX} px column, "
            f"so its smallest text is {smallest:.1f} px; make it at most {plot.COLUMN} inches wide")
        assert width >= 1.9 * shown, f"cell {cell.id}: {width} px PNG shown at {shown} px (not 2x)"


def test_no_figure_text_is_set_below_the_smallest_size():
    from helpers import plot
    sizes = [v for k, v in plot.STYLE.items() if k.endswith("size") and k != "figure.figsize"]
    assert min(sizes) >= plot.MIN_FONT
    sources = [(p.name, "\n".join(c.source for c in code_cells(p))) for p in CHAPTERS]
    sources.append(("helpers/plot.py", (ROOT / "helpers" / "plot.py").read_text()))
    for name, text in sources:
        for found in re.findall(r"fontsize=(\d+(?:\.\d+)?)", text):
            assert float(found) >= plot.MIN_FONT, f"{name}: fontsize={found}"
        assert not re.search(r"fontsize=['\"]xx?-small", text), name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_a_description(path):
    """myst-nb turns the cell's mystnb.image.alt into the figure's alt text (a screen reader
    reads it); without it the alt is the image's file name."""
    for cell, _, _ in figures(path):
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        assert len(alt) >= 40, f"cell {cell.id} of {path.name}: no description (mystnb.image.alt)"
        assert not re.search(r"\.(png|svg|jpe?g)\b|^(image|figure) of", alt, re.I), alt


def test_binder_installs_what_the_helpers_need_and_no_developer_tools():
    """binder/requirements.txt (the launch button's environment) = pyproject's dependencies."""
    import tomllib
    def names(lines):
        return {re.split(r"[<>=!~\[ ]", line.strip(), maxsplit=1)[0].lower() for line in lines
                if line.strip() and not line.lstrip().startswith(("#", "-"))}
    binder = names((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    needed = names(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert binder == needed


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_chapter_repeats_a_heading(path):
    """Two sections with one title read as a mistake, and their links collide."""
    heads = [line.strip() for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
             for line in c.source.splitlines() if re.match(r"#{1,6} ", line)]
    repeated = sorted({h for h in heads if heads.count(h) > 1})
    assert not repeated, f"{path.name} repeats {repeated}"
