"""Build data/cifar10-subset.tar.gz: 6,000 real CIFAR-10 images the book ships for offline use.

    python -m tools.build_cifar_subset                                  # from $CNN_BOOK_DATA
    python -m tools.build_cifar_subset --archive ../shared/datasets/cifar10-jpeg.tar.gz

Where the images come from: the JPEG copy of CIFAR-10 (`cifar10-jpeg.tar.gz`,
every image re-encoded as a 32x32 JPEG of quality 75, in the ImageFolder layout
`cifar10-jpeg/{train,test}/<class>/NNNN.jpg`). The subset takes, class by class,
500 training images and 100 test images, drawn with NumPy's PCG64 generator
seeded with 0 from the files of that class sorted by name. The JPEG files are
copied byte for byte (never re-encoded), so their pixels equal those of the
full copy, and the test images come from CIFAR-10's official test set.

The output is a gzip'd tar in the same layout, written with fixed file
metadata (mode 0644, owner 0, time 2020-01-01) and a fixed gzip header, so a
rebuild gives the same bytes and the SHA-256 recorded in helpers/datafiles.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import pathlib
import sys
import tarfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers import datafiles  # noqa: E402

MTIME = 1577836800  # 2020-01-01, the date the full archive's entries carry
SEED = 0


def read_members(archive: pathlib.Path) -> dict[tuple[str, str], dict[str, bytes]]:
    """(split, class) -> {file name: JPEG bytes} for every image in the archive."""
    out: dict[tuple[str, str], dict[str, bytes]] = {}
    for name, blob in datafiles._archive_members(archive):
        split, cls, file = name.split("/")
        out.setdefault((split, cls), {})[file] = blob
    return out


def select(members: dict[tuple[str, str], dict[str, bytes]]) -> list[tuple[str, bytes]]:
    """The subset: (path inside the archive, bytes), in split, class and name order."""
    rng = np.random.Generator(np.random.PCG64(SEED))
    chosen = []
    for split, n in datafiles.CIFAR_SUBSET_PER_CLASS.items():
        for cls in datafiles.CIFAR10_CLASSES:
            files = sorted(members[split, cls])
            expected = datafiles.CIFAR_JPEG_PER_CLASS[split]
            if len(files) != expected:
                sys.exit(f"{split}/{cls}: {len(files)} images, expected {expected}")
            picks = sorted(files[i] for i in rng.choice(len(files), size=n, replace=False))
            chosen += [(f"{datafiles.CIFAR_JPEG}/{split}/{cls}/{f}", members[split, cls][f])
                       for f in picks]
    return chosen


def write_tar_gz(path: pathlib.Path, files: list[tuple[str, bytes]]) -> None:
    """A .tar.gz with fixed metadata: the same files give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, blob in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(blob), MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(blob))
    with path.open("wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9,
                                             filename="", mtime=0) as gz:
        gz.write(raw.getvalue())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default = pathlib.Path(os.environ.get(datafiles.DATA_ENV, ".")) / datafiles.CIFAR_JPEG_ARCHIVE
    parser.add_argument("--archive", type=pathlib.Path, default=default,
                        help=f"the full JPEG copy (default: ${datafiles.DATA_ENV}/"
                             f"{datafiles.CIFAR_JPEG_ARCHIVE})")
    parser.add_argument("--output", type=pathlib.Path, default=datafiles.CIFAR_SUBSET)
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        sys.exit(f"{args.archive}: not found; pass --archive or set {datafiles.DATA_ENV}")
    files = select(read_members(args.archive))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_tar_gz(args.output, files)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    arrays = datafiles.read_cifar10_jpeg(args.output, datafiles.CIFAR_SUBSET_PER_CLASS)
    print(f"{args.output}: {len(arrays['train'][1]):,} train + {len(arrays['test'][1]):,} test "
          f"images, {args.output.stat().st_size:,} bytes")
    print(f"sha256 {digest}")
    if digest != datafiles.CIFAR_SUBSET_SHA256:
        print(f"note: helpers/datafiles.py records {datafiles.CIFAR_SUBSET_SHA256}; "
              f"update CIFAR_SUBSET_SHA256")
        return 1
    print("matches CIFAR_SUBSET_SHA256 in helpers/datafiles.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
