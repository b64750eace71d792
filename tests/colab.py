"""A Colab-like place to run the setup cell and chapters: no checkout, the repository served locally.

`remote(tmp)` makes a git repository from this working tree (tracked and new,
not ignored files, as committed on the book's branch), and `git_home(tmp, remote)`
a throwaway HOME whose .gitconfig sends the book's URL there through git's
`url.<base>.insteadOf`. A setup cell run with that HOME clones "from GitHub"
exactly as in Colab, but from the local copy and offline.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

from tools import notebooks

ROOT = notebooks.ROOT


def git(*args, cwd) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "test",
           "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def remote(tmp: pathlib.Path) -> pathlib.Path:
    """A repository with this working tree's files on branch repository.branch."""
    repo = tmp / "remote"
    files = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    git("init", "--quiet", "--initial-branch", notebooks.repo_branch(), cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "the book", cwd=repo)
    return repo


def git_home(tmp: pathlib.Path, repo: pathlib.Path) -> pathlib.Path:
    """A HOME whose git config redirects the book's URL to `repo`."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text(f'[url "{repo.as_uri()}"]\n\tinsteadOf = {notebooks.repo_url()}\n')
    return home


def colab_env(home: pathlib.Path, **extra) -> dict:
    """The environment of a kernel in the Colab-like place."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GIT_DIR", "GIT_WORK_TREE")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", **extra)
    return env
