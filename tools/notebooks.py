"""Keep the chapter notebooks consistent, and re-execute them.

    python -m tools.notebooks sync              # rewrite every setup cell from the template
    python -m tools.notebooks check             # fail if any setup cell differs (CI, tests)
    python -m tools.notebooks execute [NB ...]  # re-run notebooks, write outputs + widget state
    python -m tools.notebooks verify [NB ...]   # re-run at full budget, compare every output
    python -m tools.notebooks release 0.2.0     # pack the runs (tools.publish), bump helpers.__version__,
                                                # sync, commit, tag v0.2.0

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
import shutil
import string
import subprocess
import sys
import time

import nbformat
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
SETUP_TAG = "setup"
# "hide-input" folds the setup cell's code behind a toggle in the HTML book.
SETUP_TAGS = [SETUP_TAG, "hide-input"]

SETUP_TEMPLATE = string.Template("""\
# Setup (the same cell opens every chapter): find or fetch the book's helpers.
import importlib, importlib.metadata, pathlib, shutil, subprocess, sys

BOOK_REPO = "$repo"
BOOK_BRANCH = "$branch"
BOOK_VERSION = "$version"
ANYWIDGET = "$anywidget"  # the widget state saved in the chapters is for anywidget $anywidget.x

here = pathlib.Path.cwd().resolve()
root = next((p for p in (here, *here.parents)
             if (p / "helpers" / "__init__.py").exists()), None)
fetched = root is None
if fetched:  # Colab, or a notebook copied out of the repository
    root = here / "cnn-book"
    if root.is_dir() and {p.name for p in root.iterdir()} <= {".git"}:
        shutil.rmtree(root)  # left by an interrupted clone: clone again
    if not root.exists():  # the release tag v<BOOK_VERSION> if it exists, else the book's branch
        git = ["git", "-c", "advice.detachedHead=false"]
        tag = "v" + BOOK_VERSION
        tagged = subprocess.run(git + ["ls-remote", "--tags", BOOK_REPO, "refs/tags/" + tag],
                                stdout=subprocess.PIPE, text=True, check=True).stdout.strip() != ""
        ref = tag if tagged else BOOK_BRANCH
        subprocess.run(git + ["clone", "--quiet", "--depth", "1", "--branch", ref,
                              BOOK_REPO, str(root)], check=True)
        print(f"Cloned {BOOK_REPO} at {'tag' if tagged else 'branch'} {ref} into {root}")
    if not (root / "helpers" / "__init__.py").exists():
        raise RuntimeError(f"{root} exists but has no helpers/ in it: move it away or delete it, "
                           "then run this cell again")
    try:
        found = importlib.metadata.version("anywidget")
    except importlib.metadata.PackageNotFoundError:
        found = None
    if found is None or not found.startswith(ANYWIDGET + "."):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        f"anywidget=={ANYWIDGET}.*"], check=True)
        importlib.invalidate_caches()
        print(f"Installed anywidget {importlib.metadata.version('anywidget')} (found {found}). "
              "If an explorer says 'No version of module anywidget is registered', reload this "
              "page in the browser: Jupyter loads widget code only when the page loads.")
if str(root) not in sys.path:
    sys.path.insert(0, str(root))

import helpers
if helpers.__version__ != BOOK_VERSION:
    raise RuntimeError(
        f"This chapter is for helpers {BOOK_VERSION}, but {pathlib.Path(helpers.__file__).parent} "
        f"is version {helpers.__version__}. " + (
            f"Delete {root} (Colab: !rm -rf {root}), restart the runtime (Colab: Runtime > "
            "Restart session; Jupyter: Kernel > Restart) and run this cell again." if fetched else
            "Open the chapter from the same checkout as its helpers (after a version bump: "
            "python -m tools.notebooks sync)."))
from helpers import plot, repro
plot.use_book_style()          # the book's figure size, fonts and resolution
FAST = repro.fast_mode()       # CNN_BOOK_FAST=1 (set in CI): small data, few epochs
DEVICE = repro.pick_device()   # cuda, then mps, then cpu
SEED = repro.seed_everything(0)  # every chapter starts from the same random state""")


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def repo_url() -> str:
    return book_config()["repository"]["url"]


def helpers_version() -> str:
    text = (ROOT / "helpers" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def repo_branch() -> str:
    """The branch the book is built from; Colab clones it until a release is tagged."""
    return book_config()["repository"]["branch"]


def anywidget_series() -> str:
    """The anywidget release series requirements.txt pins (`anywidget==0.11.*` -> "0.11")."""
    text = (ROOT / "requirements.txt").read_text()
    return re.search(r"^anywidget==(\d+\.\d+)\.\*(?:\s|$)", text, re.M).group(1)


def setup_source() -> str:
    """The setup cell every chapter must start with."""
    return SETUP_TEMPLATE.substitute(repo=repo_url(), branch=repo_branch(),
                                     version=helpers_version(), anywidget=anywidget_series())


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


def environment_problems(constraints: pathlib.Path = ROOT / "constraints.txt") -> list[str]:
    """Installed packages whose version differs from constraints.txt (the committed outputs' versions)."""
    import importlib.metadata

    problems = []
    for line in constraints.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, wanted = (part.strip() for part in line.split("==", 1))
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found = "not installed"
        if found != wanted:
            problems.append(f"{name}: {found}, constraints.txt says {wanted}")
    return problems


def run_log(path: pathlib.Path) -> pathlib.Path:
    """Where `execute` records the runs a chapter loads or trains (tools.runs publishes them)."""
    from helpers import runs

    return runs.store_folder() / "chapter-runs" / f"{path.stem}.jsonl"


def execute(path: pathlib.Path, timeout: int = 3 * 3600) -> float:
    """Run a notebook top to bottom in a fresh kernel and store outputs and widget state.

    The kernel records every run the chapter loads or trains in run_log(path).
    """
    from nbclient import NotebookClient

    from helpers import runs

    sync(path)
    log = run_log(path)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    os.environ[runs.RUN_LOG_ENV] = str(log)  # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
        coalesce_streams=True,  # one stream output per cell however the kernel chunks it (load)
    )
    start = time.perf_counter()
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


TIMING_TAG = "timing"  # a cell whose output is a live time measurement: verify skips it
VERIFY = ROOT / "_build" / "verify"


def verify(paths) -> int:
    """Re-execute chapters at full budget and compare every output with the committed one.

    The committed outputs come from the full run, and the runs they load are in
    the local store (or published), so a re-execution loads them and must print
    the same numbers. nbval does the comparison on copies of the chapters in
    _build/verify/ from which the `# NBVAL_IGNORE_OUTPUT` markers are removed,
    except in cells tagged "timing" (live measurements of speed). Whether a run
    was trained, loaded or downloaded is sanitised (tests/nbval_verify.cfg).
    Returns pytest's exit code.
    """
    if VERIFY.exists():
        shutil.rmtree(VERIFY)
    VERIFY.mkdir(parents=True)
    copies = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            first, _, rest = cell.source.partition("\n")
            if (cell.cell_type == "code" and first.strip() == "# NBVAL_IGNORE_OUTPUT"
                    and TIMING_TAG not in cell.metadata.get("tags", [])):
                cell.source = rest
        copies.append(VERIFY / path.name)
        nbformat.write(nb, copies[-1])
    env = {k: v for k, v in os.environ.items() if k != "CNN_BOOK_FAST"}
    return subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                            "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
                            str(ROOT / "tests" / "nbval_verify.cfg"), *map(str, copies)],
                           cwd=ROOT, env=env)


def git(*args: str, cwd: pathlib.Path = ROOT) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"git {' '.join(args)} failed:\n{out.stderr.strip()}")
    return out.stdout


def release(version: str) -> str:
    """Bump helpers.__version__ to `version`, sync every setup cell, commit, and tag v<version>.

    Refuses to run on a working tree with uncommitted changes or when the tag exists.
    Returns the tag. Pushing (git push origin <branch> <tag>) is left to the caller.
    """
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"release: version must look like 1.2.3, got {version!r}")
    tag = "v" + version
    if git("status", "--porcelain").strip():
        raise SystemExit("release: commit or stash your changes first (git status is not clean)")
    if git("tag", "--list", tag).strip():
        raise SystemExit(f"release: tag {tag} exists already")
    if version == helpers_version():
        raise SystemExit(f"release: helpers is at {version} already")
    from tools import publish

    folder = publish.pack(version)  # the runs the chapters load, and helpers/published.json
    init = ROOT / "helpers" / "__init__.py"
    init.write_text(re.sub(r'^__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text(), count=1, flags=re.M))
    paths = chapter_paths()
    for path in paths:
        sync(path)
    problems = check(paths)
    if problems:
        raise SystemExit("release: " + "\n".join(problems))
    manifest = ROOT / "helpers" / "published.json"
    git("add", str(init.relative_to(ROOT)), str(manifest.relative_to(ROOT)),
        *(str(p.relative_to(ROOT)) for p in paths))
    git("commit", "--quiet", "-m", f"Release {tag}: helpers {version}, setup cells synced, "
        f"published runs listed (attach {folder.relative_to(ROOT)}/* to the release)")
    git("tag", "-a", tag, "-m", f"Release {tag}")
    return tag


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["sync", "check", "execute", "verify", "release"])
    parser.add_argument("notebooks", nargs="*",
                        help="notebooks to act on (default: every chapter); for release, the new version")
    args = parser.parse_args(argv)
    if args.command == "release":
        if len(args.notebooks) != 1:
            parser.error("release takes one argument, the new version (e.g. 0.2.0)")
        tag = release(args.notebooks[0])
        branch = git("rev-parse", "--abbrev-ref", "HEAD").strip()
        print(f"committed and tagged {tag}; publish it with: git push origin {branch} {tag}")
        return 0
    args.notebooks = [pathlib.Path(p) for p in args.notebooks]
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

    # Committed outputs come from the full run, never the CI budget, and from the
    # versions recorded in constraints.txt.
    problems = environment_problems()
    if problems:
        print("This environment differs from constraints.txt, the versions the committed outputs were "
              "executed with:\n  " + "\n  ".join(problems) + "\nRun `make install`, or after a deliberate "
              "upgrade `make constraints`, then execute again.", file=sys.stderr)
        return 1
    os.environ.pop("CNN_BOOK_FAST", None)
    # One torch thread, whoever runs this (make execute, or this module directly): with
    # more threads torch sums in another order, training ends a few digits elsewhere, and the
    # committed numbers, which the prose quotes, would not repeat. The kernel inherits it.
    if os.environ.get("OMP_NUM_THREADS") not in (None, "1"):
        print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} ignored: the chapters are executed "
              "with one thread", file=sys.stderr)
    os.environ["OMP_NUM_THREADS"] = "1"
    if args.command == "verify":
        return verify(paths)
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        print(f"  done in {execute(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
