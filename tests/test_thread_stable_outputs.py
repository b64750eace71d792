"""Chapters 1-5 must give the same compared outputs with any number of CPU threads.

With more threads torch sums in another order, so a quantity that is zero
"up to float rounding" (a difference between two ways of computing the same
thing) comes out as 0.0e+00 with one thread and 1.2e-07 with two. Printed,
such a residue makes nbval fail on a machine that runs the chapters with a
different OMP_NUM_THREADS. This check reads the stored outputs, no kernel:
a compared (not NBVAL_IGNORE_OUTPUT) output of chapters 1-5 may not print a
number smaller than 1e-5 in magnitude written in scientific notation, nor one
with seven or more decimals; print a tolerance test instead ("below 1e-6: True").
"""

import re

import nbformat
import pytest

from tools import notebooks

CHAPTERS = [p for p in notebooks.chapter_paths() if p.name[:2] in {"01", "02", "03", "04", "05"}]
# as Python prints a float (1.2e-07, 0.0e+00): a signed exponent of two or more digits; a
# threshold written into a message by hand ("below 1e-6") is not a computed number
SCIENTIFIC = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?e[-+]\d{2,}(?![\w.])")
LONG_DECIMAL = re.compile(r"(?<![\w.])[-−]?\d+\.\d{7,}(?![\w.])")


def residues(text: str) -> list[str]:
    """The numbers in `text` that look like float rounding leftovers."""
    found = []
    for pattern in (SCIENTIFIC, LONG_DECIMAL):
        for match in pattern.finditer(text):
            value = abs(float(match.group().replace("−", "-")))
            if value < 1e-5:
                found.append(match.group())
    return found


def compared_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "".join(parts)


def test_the_rule_catches_the_residues_it_is_for():
    assert residues("on the overlap: max difference 0.0e+00") == ["0.0e+00"]
    assert residues("max difference 1.2e-07, error 3.0000000e-08") == ["1.2e-07", "3.0000000e-08"]
    assert residues("diff 0.00000012") == ["0.00000012"]
    assert residues("loss 5.614e-05, lr 1e-3, acc 0.9871, below 1e-6: True, 1.5e+00") == []
    assert residues("tolerance 1e-06") == ["1e-06"]  # printed by Python: flagged, to be safe


def test_all_five_chapters_are_checked():
    assert [p.name[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_compared_outputs_print_no_rounding_residue(path):
    problems = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith("# NBVAL_IGNORE_OUTPUT"):
            continue
        found = residues(compared_text(cell))
        if found:
            problems.append(f"cell {index}: {found}")
    assert problems == [], (
        f"{path.name} prints float rounding residues, whose digits change with the number of "
        f"threads: {problems}. Print a tolerance check instead, e.g. f'below 1e-6: {{d < 1e-6}}'")
