"""Keep the chapter notebooks consistent, and re-execute them.

    python -m tools.notebooks sync              # rewrite every setup cell from the template
    python -m tools.notebooks check             # fail if any setup cell differs (CI, tests)
    python -m tools.notebooks execute [NB ...]  # re-run notebooks, write outputs + widget state

Every chapter starts with the same setup cell. It is rendered from SETUP_TEMPLATE
with the repository URL from _config.yml (the one place it is written) and the
version from helpers/__init__.py, so a chapter opened in Colab fetches exactly
the helpers it was written against.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import sys
import time

import nbformat
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
SETUP_TAG = "setup"
# "hide-input" folds the setup cell's code behind a toggle in the HTML book.
SETUP_TAGS = [SETUP_TAG, "hide-input"]

SETUP_TEMPLATE = '''\
# Setup (the same cell opens every chapter): find or fetch the book's helpers.
import pathlib, subprocess, sys

BOOK_REPO = "{repo}"
BOOK_VERSION = "{version}"

here = pathlib.Path.cwd().resolve()
root = next((p for p in (here, *here.parents)
             if (p / "helpers" / "__init__.py").exists()), None)
if root is None:  # Colab, or a notebook copied out of the repository
    root = here / "cnn-book"
    if not root.exists():
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch",
                        "v" + BOOK_VERSION, BOOK_REPO, str(root)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "anywidget"], check=True)
if str(root) not in sys.path:
    sys.path.insert(0, str(root))

from helpers import repro
repro.check_version(BOOK_VERSION)
FAST = repro.fast_mode()       # CNN_BOOK_FAST=1 (set in CI): small data, few epochs
DEVICE = repro.pick_device()   # cuda, then mps, then cpu
SEED = repro.seed_everything(0)  # every chapter starts from the same random state'''


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def repo_url() -> str:
    return book_config()["repository"]["url"]


def helpers_version() -> str:
    text = (ROOT / "helpers" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def setup_source() -> str:
    """The setup cell every chapter must start with."""
    return SETUP_TEMPLATE.format(repo=repo_url(), version=helpers_version())


def chapter_paths() -> list[pathlib.Path]:
    return sorted(p for p in CHAPTERS.glob("*.ipynb"))


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def sync(path: pathlib.Path) -> bool:
    """Make the first code cell the setup cell; returns True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    if cell is not None and SETUP_TAG in cell.metadata.get("tags", []):
        if cell.source == setup_source() and cell.metadata["tags"] == SETUP_TAGS:
            return False
        cell.source = setup_source()
        cell.metadata["tags"] = list(SETUP_TAGS)
    else:
        cell = nbformat.v4.new_code_cell(setup_source())
        cell.metadata["tags"] = list(SETUP_TAGS)
        # after the title and goals, before the first code cell
        first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(first, cell)
    nbformat.write(nb, path)
    return True


def check(paths) -> list[str]:
    """Problems with setup cells, as readable lines (empty when all is well)."""
    expected = setup_source()
    problems = []
    for path in paths:
        cell = first_code_cell(nbformat.read(path, as_version=4))
        if cell is None or cell.source != expected or cell.metadata.get("tags") != SETUP_TAGS:
            problems.append(f"{path.relative_to(ROOT)}: first code cell is not the setup cell "
                            f"(run `python -m tools.notebooks sync`)")
    return problems


def execute(path: pathlib.Path, timeout: int = 3600) -> float:
    """Run a notebook top to bottom in a fresh kernel and store outputs and widget state."""
    from nbclient import NotebookClient

    sync(path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["sync", "check", "execute"])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to act on (default: every chapter)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or chapter_paths()

    if args.command == "sync":
        for path in paths:
            if sync(path):
                print(f"updated {path.relative_to(ROOT)}")
        return 0
    if args.command == "check":
        problems = check(paths)
        print("\n".join(problems) or f"{len(paths)} setup cells match the template")
        return 1 if problems else 0

    # Committed outputs come from the full run, never the CI budget.
    os.environ.pop("CNN_BOOK_FAST", None)
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        print(f"  done in {execute(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
