"""Publish the runs the chapters load, and the CIFAR-10 copy they were trained on.

    python -m tools.publish status              # which runs each chapter loads; stored? published?
    python -m tools.publish pack 0.2.0          # copy them into _build/release/v0.2.0/, write the manifest
    python -m tools.publish pack 0.2.0 --chapters 06 07   # only these chapters' runs

`tools.notebooks execute` records, for every chapter it runs, the runs the
chapter loaded or trained (artifacts/chapter-runs/<chapter>.jsonl, in the
store CNN_BOOK_STORE names, if set). `pack` gathers every run of every
chapter's latest full execution from the local store, copies the files, and
CIFAR-10's JPEG copy from CNN_BOOK_DATA, into one folder, with each run's
history alone beside it (what runs.fit_or_load_history downloads), and writes
helpers/published.json: each file's name, size and SHA-256, each run's key
and the hashes its key is made of, and the release URL the files will have
(repository.url in _config.yml, release v<version>). `make release` runs it;
the maintainer then attaches the folder's files to the GitHub release
(benchmarks/README.md, "Publishing the runs").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import sys

from helpers import datafiles, runs
from tools import notebooks

RELEASE = notebooks.ROOT / "_build" / "release"


def chapter_runs() -> dict[str, list[dict]]:
    """{chapter stem: [run log rows, one per distinct run]} from each chapter's latest execution."""
    found = {}
    for path in notebooks.chapter_paths():
        log = notebooks.run_log(path)
        if not log.exists():
            continue
        rows = {}
        for line in log.read_text().splitlines():
            row = json.loads(line)
            rows[row["file"]] = row
        found[path.stem] = list(rows.values())
    return found


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def status() -> int:
    store, manifest = runs.store_folder(), datafiles.published()
    published = {r["file"] for r in manifest["runs"]}
    logged = chapter_runs()
    for path in notebooks.chapter_paths():
        rows = logged.get(path.stem)
        if rows is None:
            print(f"{path.stem}: not executed at full budget with this store ({store})")
            continue
        stored = sum((store / r["file"]).exists() for r in rows)
        print(f"{path.stem}: {len(rows)} runs, {stored} in the local store, "
              f"{sum(r['file'] in published for r in rows)} in helpers/published.json")
    return 0


def pack(version: str, out: pathlib.Path | None = None, manifest_path: pathlib.Path | None = None,
         url: str | None = None, chapters: list[str] | None = None,
         unlogged_ok: bool = False) -> pathlib.Path:
    """Copy the runs of `chapters` (stems; default: every chapter) and the JPEG copy to `out`;
    write the manifest (helpers/published.json unless `manifest_path`) with the files' `url`
    (default: the GitHub release of `version`). unlogged_ok=True packs what the logs
    list and lets a chapter without a log (never executed with this store) pass."""
    out = out or RELEASE / f"v{version}"
    store, logged = runs.store_folder(), chapter_runs()
    chapters = chapters if chapters is not None else [p.stem for p in notebooks.chapter_paths()]
    missing_logs = [stem for stem in chapters if stem not in logged and not unlogged_ok]
    rows = {r["file"]: r for stem in chapters for r in logged.get(stem, [])}
    missing = sorted(f for f in rows if not (store / f).exists())
    if missing_logs or missing:
        raise SystemExit("publish: cannot pack "
                         + (f"(chapters never executed at full budget with this store: "
                            f"{', '.join(missing_logs)}; run make execute) " if missing_logs else "")
                         + (f"(runs not in {store}: {', '.join(missing)})" if missing else ""))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    for file, row in sorted(rows.items()):
        shutil.copy2(store / file, out / file)
        history = pathlib.Path(file).stem + runs.HISTORY_SUFFIX   # for runs.fit_or_load_history
        runs.write_history(out / file, out / history)
        entries.append({"name": row["name"], "key": row["key"], "file": file,
                        "bytes": (out / file).stat().st_size, "sha256": sha256(out / file),
                        "parts": row["parts"],
                        "history": {"file": history, "bytes": (out / history).stat().st_size,
                                    "sha256": sha256(out / history)}})
    data = []
    root = datafiles.env_root()
    archive = root / datafiles.CIFAR_JPEG_ARCHIVE if root else None
    if archive is not None and archive.is_file():
        shutil.copy2(archive, out / archive.name)
        data.append({"file": archive.name, "bytes": archive.stat().st_size,
                     "sha256": sha256(archive)})
    else:
        print(f"publish: {datafiles.CIFAR_JPEG_ARCHIVE} not found in CNN_BOOK_DATA; the release "
              f"will not carry CIFAR-10's JPEG copy", file=sys.stderr)
    manifest = {"version": version,
                "url": url or f"{notebooks.repo_url()}/releases/download/v{version}/",
                "runs": entries, "data": data}
    manifest_path = manifest_path or datafiles.PUBLISHED
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(e["bytes"] for e in entries + data) + sum(e["history"]["bytes"] for e in entries)
    print(f"packed {len(entries)} runs (with their histories) and {len(data)} data file(s), "
          f"{total / 1e6:.1f} MB, "
          f"into {out}; wrote {manifest_path}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["status", "pack"])
    parser.add_argument("version", nargs="?")
    parser.add_argument("--chapters", nargs="+", metavar="NN",
                        help="pack only these chapters' runs (by number, e.g. 06 07)")
    args = parser.parse_args(argv)
    if args.command == "status":
        return status()
    if not args.version:
        parser.error("pack needs the release's version, e.g. 0.2.0")
    chapters = None
    if args.chapters:
        chapters = [p.stem for p in notebooks.chapter_paths() if p.name[:2] in args.chapters]
    pack(args.version, chapters=chapters)
    return 0


if __name__ == "__main__":
    os.environ.pop("CNN_BOOK_FAST", None)
    sys.exit(main())
