"""How long each chapter takes a reader: run top to bottom with the published runs.

    python -m benchmarks.reader_time                  # every chapter
    python -m benchmarks.reader_time 06 07 09         # some (by number)

Each chapter runs as a reader runs it: a fresh kernel, the full data (no
CNN_BOOK_FAST), torch on 2 threads, an empty local run store, and the runs
the book publishes served by an HTTP server on 127.0.0.1 from a release
packed just now from this machine's store (`tools.publish.pack`, into
_build/reader-time/). So a chapter downloads every run it loads, as a reader
on a fresh machine or in Colab does, and trains whatever is not published.
The chapter files are not changed: a copy is executed.

The table gives, per chapter: the seconds from the first cell to the last,
how many runs were downloaded and how many trained, and beside it the
retrain time, the training seconds of the runs it loaded (from each run's
own history: what `retrain=True` would cost on the machine that made it).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import pathlib
import shutil
import sys
import threading
import time

import nbformat
import torch

from helpers import datafiles, runs
from tools import notebooks, publish

OUT = notebooks.ROOT / "_build" / "reader-time"
TARGET_S = 180


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def run_chapter(path: pathlib.Path, env: dict) -> tuple[float, list[dict]]:
    """Execute a copy of the chapter with `env`; (seconds, the run log's rows)."""
    from nbclient import NotebookClient

    log = pathlib.Path(env[runs.RUN_LOG_ENV])
    log.write_text("")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=3 * 3600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    saved = dict(os.environ)
    os.environ.update(env)          # the kernel inherits the environment
    os.environ.pop("CNN_BOOK_FAST", None)
    try:
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return seconds, [json.loads(line) for line in log.read_text().splitlines()]


def retrain_seconds(rows: list[dict], store: pathlib.Path) -> float:
    """Training seconds of the distinct runs loaded, from each run's saved history."""
    total = 0.0
    for file in {r["file"] for r in rows if r["origin"] != "trained"}:
        path = store / file
        if path.exists():
            history = json.loads(torch.load(path, map_location="cpu", weights_only=True)["history"])
        else:   # fit_or_load_history downloaded the history alone
            history = json.loads((store / (path.stem + runs.HISTORY_SUFFIX)).read_text())["history"]
        total += sum(e["train_seconds"] for e in history["epochs"])
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter numbers, e.g. 06 09 (default: all)")
    args = parser.parse_args(argv)
    paths = [p for p in notebooks.chapter_paths()
             if not args.chapters or p.name[:2] in args.chapters]
    if OUT.exists():
        shutil.rmtree(OUT)
    release, manifest = OUT / "release", OUT / "published.json"
    httpd, url = serve(OUT / "release")
    OUT.mkdir(parents=True)
    publish.pack("reader-time", release, manifest, url=url, chapters=[p.stem for p in paths],
                 unlogged_ok=True)   # chapters 1-5 train nothing; a run they trained would show
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, 2 torch threads; runs served from {url}")
    rows_out = []
    try:
        for path in paths:
            store = OUT / "stores" / path.stem
            store.mkdir(parents=True)
            env = {runs.STORE_ENV: str(store), datafiles.PUBLISHED_ENV: str(manifest),
                   runs.RUN_LOG_ENV: str(store / "log.jsonl"), "OMP_NUM_THREADS": "2"}
            seconds, rows = run_chapter(path, env)
            origins = [r["origin"] for r in rows]
            rows_out.append((path.stem, seconds, sum(o.startswith("published") for o in origins),
                             origins.count("store"), origins.count("trained"),
                             retrain_seconds(rows, store)))
            print(f"{path.stem}: {seconds:.0f} s", flush=True)
    finally:
        httpd.shutdown()
    print("\n| chapter | seconds | runs downloaded | loaded again | trained | retrain s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for stem, seconds, down, again, trained, retrain in rows_out:
        flag = "" if seconds <= TARGET_S else " (over the target)"
        print(f"| {stem} | {seconds:.0f}{flag} | {down} | {again} | {trained} | {retrain:,.0f} |")
    return 0 if all(r[1] <= TARGET_S for r in rows_out) else 1


if __name__ == "__main__":
    sys.exit(main())
