"""One chapter run the way Colab runs it: only the .ipynb, in an empty folder.

The chapter is copied alone into an empty folder and executed top to bottom in
a fresh kernel (nbclient) with CNN_BOOK_FAST=1 and a throwaway HOME whose git
config sends the book's GitHub URL to a local copy of this working tree
(tests/colab.py). So the setup cell really clones the repository and imports
helpers from that clone. Checked: no cell raised (the chapters assert their
results in code), the setup cell said what it cloned, and helpers came from
the clone.

One chapter is enough: every chapter opens with the same setup cell
(tests/test_book.py), the setup cell's other paths are tested in
tests/test_setup_cell.py, and nbval executes every chapter once and compares
its outputs. Chapter 6 is the one run here because it reads data and uses the
run store from inside the clone, where a path relative to the repository would
go wrong first.
"""

from __future__ import annotations

import shutil

import nbformat
from nbclient import NotebookClient

from tests import colab
from tools import notebooks

CHAPTER = next(p for p in notebooks.chapter_paths() if p.name.startswith("06_"))
URL, BRANCH = notebooks.repo_url(), notebooks.repo_branch()


def test_a_chapter_runs_in_an_empty_folder_like_colab(tmp_path):
    repo = colab.remote(tmp_path)
    env = colab.colab_env(colab.git_home(tmp_path, repo), CNN_BOOK_FAST="1", OMP_NUM_THREADS="1")
    folder = tmp_path / CHAPTER.stem
    folder.mkdir()
    shutil.copy(CHAPTER, folder / CHAPTER.name)
    nb = nbformat.read(folder / CHAPTER.name, as_version=4)
    # one cell more at the end: where did `helpers` come from?
    nb.cells.append(nbformat.v4.new_code_cell("import helpers; print(helpers.__file__)"))
    NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(c.source[:80], o.get("ename"), o.get("evalue")) for c in code for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    setup = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    assert setup.startswith(f"Cloned {URL} at branch {BRANCH} into {folder / 'cnn-book'}"), setup
    assert "detached" not in setup.lower()
    where = code[-1].outputs[0]["text"].strip()
    assert where == str(folder / "cnn-book" / "helpers" / "__init__.py")
