"""Every chapter run the way Colab runs it: only the .ipynb, in an empty folder.

Each chapter is copied alone into an empty folder and executed top to bottom
in a fresh kernel (nbclient) with CNN_BOOK_FAST=1 and a throwaway HOME whose
git config sends the book's GitHub URL to a local copy of this working tree
(tests/colab.py). So the setup cell really clones the repository and imports
helpers from that clone. Checked per chapter: no cell raised (the chapters
assert their results in code), the setup cell said what it cloned, helpers
came from the clone, and every output nbval compares (cells not marked
NBVAL_IGNORE_OUTPUT) equals the committed one after the same sanitizing.

The chapters run two at a time in one session fixture (the CI machine has two
cores); set CNN_BOOK_COLAB_JOBS to change that.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import os
import pathlib
import re
import shutil
import time

import nbformat
import pytest
from nbclient import NotebookClient

from tests import colab
from tools import notebooks

CHAPTERS = notebooks.chapter_paths()
URL, BRANCH = notebooks.repo_url(), notebooks.repo_branch()
COMPARED = ("text/plain", "text/html", "text/latex")


def sanitizers():
    config = configparser.ConfigParser()
    config.read(colab.ROOT / "tests" / "nbval_sanitize.cfg")
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


def _texts(outputs, rules) -> list[str]:
    """What nbval compares, after sanitizing; stream chunks joined (how a kernel splits a
    stream into outputs depends on timing)."""
    streams, data = {}, []
    for out in outputs:
        if out.get("output_type") == "stream":
            streams[out["name"]] = streams.get(out["name"], "") + out["text"]
        elif "data" in out:
            data += [out["data"][m] for m in COMPARED if m in out["data"]]
    texts = [streams[name] for name in sorted(streams)] + [t if isinstance(t, str) else "".join(t) for t in data]
    for pattern, repl in rules:
        texts = [pattern.sub(repl, t) for t in texts]
    return texts


def run_like_colab(path, tmp, env) -> tuple[nbformat.NotebookNode, float, pathlib.Path]:
    folder = tmp / path.stem
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    nb = nbformat.read(folder / path.name, as_version=4)
    # one cell more at the end: where did `helpers` come from?
    nb.cells.append(nbformat.v4.new_code_cell("import helpers; print(helpers.__file__)"))
    client = NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute(env=env)
    return nb, time.perf_counter() - start, folder


@pytest.fixture(scope="module")
def colab_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("colab")
    repo = colab.remote(tmp)
    env = colab.colab_env(colab.git_home(tmp, repo), CNN_BOOK_FAST="1", OMP_NUM_THREADS="1")
    jobs = int(os.environ.get("CNN_BOOK_COLAB_JOBS", "2"))
    # the slow (training) chapters first, so the two workers finish together
    order = sorted(CHAPTERS, key=lambda p: p.name >= "06", reverse=True)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {p.name: pool.submit(run_like_colab, p, tmp, env) for p in order}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_runs_in_an_empty_folder_like_colab(colab_runs, path):
    nb, seconds, folder = colab_runs[path.name]
    print(f"{path.name}: {seconds:.0f} s")
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(c.source[:80], o.get("ename"), o.get("evalue")) for c in code for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    setup = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    assert setup.startswith(f"Cloned {URL} at branch {BRANCH} into {folder / 'cnn-book'}"), setup
    assert "detached" not in setup.lower()
    where = code.pop().outputs[0]["text"].strip()
    assert where == str(folder / "cnn-book" / "helpers" / "__init__.py")

    committed = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert [c.source for c in committed] == [c.source for c in code]
    rules = sanitizers()
    for ran, kept in zip(code[1:], committed[1:]):
        if "NBVAL_IGNORE_OUTPUT" in kept.source or "nbval-ignore-output" in kept.metadata.get("tags", []):
            continue
        assert _texts(ran.outputs, rules) == _texts(kept.outputs, rules), kept.source[:200]

