"""The chapters' setup cell where readers run it: Colab, or a notebook copied out of the repository.

The cell is run as a script in an empty folder, with HOME pointing at a
throwaway git config that redirects the book's GitHub URL to a local copy of
this working tree (tests/colab.py), so it clones offline what Colab would
clone. Also: the release command, and the version every chapter asks for.
"""

from __future__ import annotations

import os
import pathlib
import json
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

import helpers
from tests import colab
from tools import notebooks

URL = notebooks.repo_url()
BRANCH = notebooks.repo_branch()
VERSION = helpers.__version__
CELL = notebooks.setup_source() + "\nprint('helpers from', helpers.__file__)\n"


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    return colab.remote(tmp_path_factory.mktemp("origin"))


@pytest.fixture
def place(tmp_path, remote):
    """(folder to run in, environment): an empty folder, git redirected to `remote`."""
    work = tmp_path / "content"
    work.mkdir()
    return work, colab.colab_env(colab.git_home(tmp_path, remote))


def run_cell(work, env, python=sys.executable):
    return subprocess.run([python, "-c", CELL], cwd=work, env=env, capture_output=True, text=True, timeout=300)


def test_without_a_release_tag_it_clones_the_branch_and_says_so(place):
    work, env = place
    out = run_cell(work, env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"Cloned {URL} at branch {BRANCH} into {work / 'cnn-book'}"
    assert lines[-1] == f"helpers from {work / 'cnn-book' / 'helpers' / '__init__.py'}"
    assert out.stderr == ""  # nothing in red under the cell


def test_with_a_release_tag_it_clones_the_tag_without_detached_head_advice(place, remote):
    work, env = place
    colab.git("tag", "v" + VERSION, cwd=remote)
    try:
        out = run_cell(work, env)
    finally:
        colab.git("tag", "-d", "v" + VERSION, cwd=remote)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"Cloned {URL} at tag v{VERSION} into {work / 'cnn-book'}"
    assert colab.git("describe", "--tags", cwd=work / "cnn-book").strip() == "v" + VERSION
    assert "detached" not in out.stderr.lower() and out.stderr == ""


@pytest.mark.parametrize("leftover", ["empty", "only .git"])
def test_a_folder_left_by_an_interrupted_clone_is_cloned_again(place, leftover):
    work, env = place
    (work / "cnn-book").mkdir()
    if leftover == "only .git":
        (work / "cnn-book" / ".git" / "objects").mkdir(parents=True)
        (work / "cnn-book" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    out = run_cell(work, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Cloned {URL} at branch {BRANCH}")
    assert (work / "cnn-book" / "helpers" / "__init__.py").is_file()


def test_a_clone_of_another_version_says_what_to_do(place):
    work, env = place
    assert run_cell(work, env).returncode == 0
    init = work / "cnn-book" / "helpers" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "0.0.1"', init.read_text()))
    out = run_cell(work, env)
    assert out.returncode != 0
    message = out.stderr.strip().splitlines()[-1]
    assert message.startswith(f"RuntimeError: This chapter is for helpers {VERSION}")
    assert "is version 0.0.1" in message
    assert f"!rm -rf {work / 'cnn-book'}" in message and "restart the runtime" in message


def test_a_foreign_cnn_book_folder_is_left_alone_with_a_clear_error(place):
    work, env = place
    (work / "cnn-book").mkdir()
    (work / "cnn-book" / "notes.txt").write_text("mine")
    out = run_cell(work, env)
    assert out.returncode != 0
    assert "has no helpers/ in it: move it away or delete it" in out.stderr
    assert (work / "cnn-book" / "notes.txt").read_text() == "mine"


def _fake_anywidget_wheel(folder: pathlib.Path, version: str) -> pathlib.Path:
    """A minimal, dependency-free wheel named anywidget (pip installs it offline)."""
    folder.mkdir()
    wheel = folder / f"anywidget-{version}-py3-none-any.whl"
    info = f"anywidget-{version}.dist-info"
    files = {
        "anywidget/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: anywidget\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return folder


def test_without_anywidget_it_installs_the_pinned_series_and_says_to_reload(place, tmp_path):
    """A Python with everything but anywidget: the cell pip-installs `anywidget==0.11.*`
    (here a stand-in wheel from a local folder, as the test has no network) and tells
    the reader to reload the page; run again, it installs nothing."""
    work, env = place
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # this environment's packages, minus anywidget, seen through a .pth file
    site = pathlib.Path(next(p for p in sys.path if p.endswith("site-packages")))
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    for entry in site.iterdir():
        if not re.match(r"(anywidget|pip|setuptools|_distutils_hack|distutils-precedence)", entry.name) \
                and entry.suffix != ".pth":
            (shadow / entry.name).symlink_to(entry)
    venv_site = next(venv.glob("lib/python*/site-packages"))
    (venv_site / "book-shadow.pth").write_text(f"{shadow}\n")
    python = venv / "bin" / "python"
    series = notebooks.anywidget_series()
    wheels = _fake_anywidget_wheel(tmp_path / "wheels", series + ".99")
    env = {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    out = run_cell(work, env, python)
    assert out.returncode == 0, out.stderr
    assert (f"Installed anywidget {series}.99 (found None). If an explorer says 'No version of module "
            "anywidget is registered', reload this page in the browser") in out.stdout
    again = run_cell(work, env, python)
    assert again.returncode == 0, again.stderr
    assert "Installed anywidget" not in again.stdout and "Cloned" not in again.stdout


def test_anywidget_pin_agrees_with_requirements_and_the_saved_widget_state():
    series = notebooks.anywidget_series()
    assert f'ANYWIDGET = "{series}"' in notebooks.setup_source()
    pyproject = (notebooks.ROOT / "pyproject.toml").read_text()
    assert f'"anywidget=={series}.*"' in pyproject
    for path in notebooks.chapter_paths():
        state = nbformat.read(path, as_version=4).metadata.get("widgets", {})
        for model in state.get("application/vnd.jupyter.widget-state+json", {}).get("state", {}).values():
            if model["model_module"] == "anywidget":
                assert model["model_module_version"] == f"~{series}.*", path.name


@pytest.mark.parametrize("path", notebooks.chapter_paths(), ids=lambda p: p.name)
def test_every_chapter_asks_for_this_helpers_version(path):
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    asked = re.search(r'^BOOK_VERSION = "([^"]+)"', cell.source, re.M)
    assert asked and asked.group(1) == helpers.__version__, (
        f"{path.name} asks for helpers {asked and asked.group(1)}, the package is {helpers.__version__}: "
        "run `python -m tools.notebooks sync` (or `make release VERSION=...`)")


def test_release_bumps_syncs_commits_and_tags(tmp_path):
    """`python -m tools.notebooks release X.Y.Z` in a copy of the repository."""
    repo = colab.remote(tmp_path)
    store = tmp_path / "store"   # every chapter executed, none loading a run (tests/test_publish.py packs runs)
    (store / "chapter-runs").mkdir(parents=True)
    for path in (repo / "chapters").glob("*.ipynb"):
        (store / "chapter-runs" / f"{path.stem}.jsonl").write_text("")
    env = {**colab.colab_env(repo), "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org",
           "CNN_BOOK_STORE": str(store), "CNN_BOOK_DATA": str(tmp_path / "no-data")}
    out = subprocess.run([sys.executable, "-m", "tools.notebooks", "release", "9.8.7"], cwd=repo,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "committed and tagged v9.8.7" in out.stdout
    assert '__version__ = "9.8.7"' in (repo / "helpers" / "__init__.py").read_text()
    for path in sorted((repo / "chapters").glob("*.ipynb")):
        cell = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert 'BOOK_VERSION = "9.8.7"' in cell.source, path.name
    assert colab.git("status", "--porcelain", cwd=repo) == ""
    manifest = json.loads((repo / "helpers" / "published.json").read_text())
    assert manifest["runs"] == [] and manifest["url"].endswith("/releases/download/v9.8.7/")
    assert colab.git("describe", "--exact-match", "--tags", "HEAD", cwd=repo).strip() == "v9.8.7"
    # a second release of the same version is refused
    again = subprocess.run([sys.executable, "-m", "tools.notebooks", "release", "9.8.7"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "exists already" in again.stderr
