"""Data for the chapters: datasets held in memory as tensors, and batches cut from them.

One entry point per dataset: ``load_mnist()``, ``load_fashion_mnist()`` and
``load_cifar10()``. Each returns a ``Dataset``: a train and a test ``Split``
(uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``), the class names,
and a ``source`` line saying where the images came from and how many there
are. A chapter prints ``source``, so a reader always knows what was trained on.
Where the files are looked for, and how they are read and checked, is
``helpers.datafiles``'s job; this module holds the containers and the batching.

Images stay uint8 in memory (MNIST: 47 MB, CIFAR-10: 184 MB). ``Split.batches``
turns them into normalised float batches on the fly, ``(x / 255 - mean) / std``
per channel with the training set's mean and std, with no per-image Python or
PIL work. ``Split.hold_out`` cuts a validation split from a training split.

Nothing is downloaded or read on import.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from helpers import checks, datafiles
from helpers.datafiles import (CIFAR10_CLASSES, DATA_ENV, FASHION_MNIST_CLASSES,  # noqa: F401
                               MNIST_CLASSES, OFFLINE_ENV, DataFileError)


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
        if not all(_finite(s) and s > 0 for s in self.std):
            raise ValueError(f"every std must be a positive number (the batches divide by it), "
                             f"got {self.std}")
        if not all(_finite(m) for m in self.mean):
            raise ValueError(f"every mean must be a finite number, got {self.mean}")
        if self.labels.dtype != torch.int64 or (len(self.labels) and int(self.labels.min()) < 0):
            raise ValueError(f"labels must be class numbers 0, 1, ... (int64), got {self.labels.dtype} "
                             f"labels from {self.labels.min().item() if len(self.labels) else None}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def take(self, n: int | None, seed: int = 0) -> Split:
        """A random subset of n images (the same n for the same seed); None keeps all."""
        if n is None:
            return self
        n = checks.as_int(n, "n", low=1)
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def hold_out(self, n: int, seed: int = 0) -> tuple[Split, Split]:
        """Split off n random images (seeded) as a validation set: returns (rest, held_out).

        The two never share an image, and both keep this split's mean and std.
        Choices (epochs, learning rate, augmentation) are made on the held-out
        images, so that the test set measures only the final model.
        """
        n = checks.as_int(n, "n", low=1, high=len(self) - 1)
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        rest, held = idx[n:].sort().values, idx[:n].sort().values
        return (dataclasses.replace(self, images=self.images[rest], labels=self.labels[rest]),
                dataclasses.replace(self, images=self.images[held], labels=self.labels[held]))

    def select(self, classes: Sequence[int]) -> Split:
        """Only the images of the given classes, relabelled 0, 1, ... in the order given.

        select([5, 9]) keeps classes 5 and 9 and calls them 0 and 1, so that a
        network with len(classes) outputs can train on the result. Mean and std
        are kept (they are the whole training set's).
        """
        classes = [checks.as_int(c, "each class", low=0) for c in classes]
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct ints, at least one, got {classes!r}")
        present = set(self.labels.unique().tolist())
        missing = [c for c in classes if c not in present]
        if missing:
            raise ValueError(f"no image has label {missing[0]!r} (labels here: {sorted(present)})")
        new_label = torch.full((int(self.labels.max()) + 1,), -1, dtype=torch.int64)
        new_label[torch.tensor(classes)] = torch.arange(len(classes))
        keep = new_label[self.labels] >= 0
        return dataclasses.replace(self, images=self.images[keep],
                                   labels=new_label[self.labels[keep]])

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
                generator: torch.Generator | None = None, augment: bool | dict = False,
                device: torch.device | str | None = None,
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (x, y): normalised float32 (B, C, H, W) and int64 (B,), the last batch smaller.

        shuffle=True draws a new order from `generator` (required, so that the
        randomness is explicit and seeded); augment=True applies `augment_batch`
        (random horizontal flip and a crop shifted by up to 4 pixels) with the
        same generator, and a dict picks its settings, e.g.
        augment={"flip": False, "padding": 2} for digits, which must not be mirrored;
        "flip" may also be a bool tensor with one entry per image of the split
        (`alternating_flips`), and "reflect": True fills the shifted edge by mirroring.
        """
        batch_size = checks.as_int(batch_size, "batch_size", low=1)
        if not isinstance(augment, (bool, dict)) or (
                isinstance(augment, dict) and not set(augment) <= {"flip", "padding", "reflect"}):
            raise ValueError(f"augment must be True, False or a dict with keys 'flip', 'padding' "
                             f"and/or 'reflect', got {augment!r}")
        settings = dict(augment) if isinstance(augment, dict) else {}
        flips = settings.get("flip")
        if isinstance(flips, torch.Tensor) and flips.shape != (len(self),):
            raise ValueError(f"augment's flip as a tensor needs one bool per image ({len(self)}), "
                             f"got shape {tuple(flips.shape)}")
        if (shuffle or augment) and generator is None:
            raise ValueError("shuffle/augment need an explicit generator, e.g. "
                             "generator=torch.Generator().manual_seed(0)")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = self.normalize(self.images[idx].to(device))
            if augment:
                if isinstance(flips, torch.Tensor):
                    settings["flip"] = flips[idx]                       # this batch's images
                x = augment_batch(x, generator, **settings)
            yield x, self.labels[idx].to(device)

    def num_batches(self, batch_size: int) -> int:
        """How many batches `batches(batch_size)` yields: ceil(N / batch_size)."""
        return -(-len(self) // checks.as_int(batch_size, "batch_size", low=1))


def _finite(value) -> bool:
    """True for a finite number (a float, a NumPy scalar, a 0-d tensor); False for NaN, inf or a non-number."""
    try:
        checks.as_float(value, "value")
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset ready for training: two Splits, class names, and where it came from."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    source: str

    def __post_init__(self):
        for name, split in (("train", self.train), ("test", self.test)):
            if len(split) and int(split.labels.max()) >= len(self.classes):
                raise ValueError(f"{self.name}: a {name} label is {int(split.labels.max())}, but there "
                                 f"are only {len(self.classes)} classes (labels 0 to {len(self.classes) - 1})")

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
            size = checks.as_int(size, "size", low=1)
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
        a = np.asarray(im, dtype=np.float32) / 255.0
    t = torch.from_numpy(a.copy())
    return t if gray else t.permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def augment_batch(x: torch.Tensor, generator: torch.Generator, flip: bool | torch.Tensor = True,
                  padding: int = 4, reflect: bool = False) -> torch.Tensor:
    """Random horizontal flip and padded random crop of a whole batch (N, C, H, W).

    flip=True flips each image with probability 1/2; a bool tensor (N,) says
    which images to flip instead (how the alternating flip of fast training
    decides them, `alternating_flips`). Then each image is padded by `padding`
    pixels on every side, with zeros (the mean colour after normalisation) or,
    reflect=True, with its own edge mirrored, and cropped back to H x W at a
    random offset. Random numbers come from the CPU `generator`; the work
    happens on x's device.
    """
    n, c, h, w = x.shape
    if isinstance(flip, torch.Tensor):
        if flip.dtype != torch.bool or flip.shape != (n,):
            raise ValueError(f"flip as a tensor must be bool of shape ({n},), one per image, got "
                             f"{flip.dtype} {tuple(flip.shape)}")
        mask = flip.to(x.device)
    elif checks.as_bool(flip, "flip"):
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    else:
        mask = None
    padding = checks.as_int(padding, "padding", low=0)
    reflect = checks.as_bool(reflect, "reflect")
    if reflect and padding >= min(h, w):
        raise ValueError(f"reflect padding must be smaller than the image ({h}x{w}), got {padding}")
    if mask is not None:
        x = torch.where(mask.view(n, 1, 1, 1), x.flip(3), x)
    if padding:
        xp = F.pad(x, (padding,) * 4, mode="reflect" if reflect else "constant")  # (N, C, H+2p, W+2p)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h)).to(x.device)            # (N, H)
        cols = (dx[:, None] + torch.arange(w)).to(x.device)            # (N, W)
        batch = torch.arange(n, device=x.device)[:, None, None]
        x = xp[batch, :, rows[:, :, None], cols[:, None, :]]           # (N, H, W, C)
        x = x.permute(0, 3, 1, 2).contiguous()                         # (N, C, H, W)
    return x


def alternating_flips(n: int, epoch: int, seed: int = 0) -> torch.Tensor:
    """Which of n images to flip in `epoch` (from 1) under the alternating flip: bool (n,).

    Epoch 1 flips a random half (seeded); every later epoch flips exactly the
    images the epoch before did not. Each image is then seen both ways in every
    two epochs, where independent coin flips show about a quarter of the images
    the same way twice in a row (Jordan 2024, "derandomized" flipping).
    """
    n = checks.as_int(n, "n", low=0)
    epoch = checks.as_int(epoch, "epoch", low=1)
    first = torch.rand(n, generator=torch.Generator().manual_seed(checks.as_int(seed, "seed", low=0))) < 0.5
    return first if epoch % 2 == 1 else ~first


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
                 source: str) -> Dataset:
    """Wrap uint8 arrays (N, C, H, W) and labels (N,) into a Dataset normalised by train stats."""
    tr = torch.from_numpy(np.require(train_images, np.uint8, ["C", "W"]))  # copies read-only data
    te = torch.from_numpy(np.require(test_images, np.uint8, ["C", "W"]))
    mean, std = channel_stats(tr)
    return Dataset(
        name=name,
        train=Split(tr, torch.from_numpy(train_labels.astype(np.int64)), mean, std),
        test=Split(te, torch.from_numpy(test_labels.astype(np.int64)), mean, std),
        classes=classes, source=source)


# --------------------------------------------------------------------------- the datasets


def load_mnist(download: bool = True) -> Dataset:
    """MNIST, 1x28x28 digits in 10 classes: the full 60,000 + 10,000 when found or downloadable.

    Otherwise the real 10,000-digit subset shipped with the book
    (`load_mnist_subset`), which says so in `source`. download=False, or
    CNN_BOOK_OFFLINE=1, skips the download.
    """
    found = datafiles.find_idx(["mnist", "MNIST/raw"], [], "MNIST", download)
    if found is None:
        return load_mnist_subset(reason=datafiles.not_found("full MNIST"))
    return _from_arrays("MNIST", found, MNIST_CLASSES)


def load_mnist_subset(path: str | os.PathLike | None = None, reason: str | None = None) -> Dataset:
    """The 10,000 real MNIST digits shipped with the book: 8,000 train + 2,000 test.

    The file's SHA-256 must match (DataFileError if not). All 10,000 come from
    MNIST's *training* set (see tools/build_mnist_subset.py), so the test split
    here is held out from it, not MNIST's official test set.
    """
    path = datafiles.MNIST_SUBSET if path is None else pathlib.Path(path)
    arrays = datafiles.read_npz_subset(path, datafiles.MNIST_SUBSET_SHA256,
                                       "python -m tools.build_mnist_subset")
    ntr, nte = len(arrays["train_labels"]), len(arrays["test_labels"])
    source = (f"MNIST SUBSET (real digits, not the full dataset): {ntr:,} training + {nte:,} test "
              f"images, split from the {ntr + nte:,} MNIST training-set digits shipped with the "
              f"book in {datafiles.show(path)}")
    if reason:
        source += f"; {reason}"
    return make_dataset("MNIST subset", arrays["train_images"][:, None], arrays["train_labels"],
                        arrays["test_images"][:, None], arrays["test_labels"],
                        MNIST_CLASSES, source)


def load_fashion_mnist(download: bool = True) -> Dataset:
    """Fashion-MNIST, 1x28x28 pictures of clothing in 10 classes, 60,000 + 10,000.

    Found in CNN_BOOK_DATA, data/, Debian's dataset-fashion-mnist package, or
    downloaded; there is no offline fallback, so this raises FileNotFoundError
    saying how to get it.
    """
    debian = [(datafiles.DEBIAN_FASHION_MNIST, "Debian package dataset-fashion-mnist")]
    found = datafiles.find_idx(["fashion-mnist", "FashionMNIST/raw"], debian, "FashionMNIST",
                               download)
    if found is None:
        raise FileNotFoundError(
            f"{datafiles.not_found('Fashion-MNIST')}. Install it with "
            f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), put the four IDX files "
            f"in ${DATA_ENV}/fashion-mnist/, or allow the download.")
    return _from_arrays("Fashion-MNIST", found, FASHION_MNIST_CLASSES)


def load_cifar10(download: bool = True) -> Dataset:
    """CIFAR-10, 3x32x32 colour photos in 10 classes, 50,000 + 10,000, when found or downloadable.

    The original python batches win, then the JPEG copy (`source` then says
    "JPEG copy"), then a torchvision download (170 MB). Otherwise the 6,000
    real images shipped with the book (`load_cifar10_subset`), which says
    SUBSET in `source`. download=False or CNN_BOOK_OFFLINE=1 skips the download.
    """
    found = datafiles.find_cifar10(download)
    if found is None:
        return load_cifar10_subset(reason=datafiles.not_found("full CIFAR-10"))
    arrays, where, jpeg = found
    return _from_arrays("CIFAR-10 (JPEG copy, quality 75)" if jpeg else "CIFAR-10",
                        (arrays, where), CIFAR10_CLASSES)


def load_cifar10_subset(path: str | os.PathLike | None = None,
                        reason: str | None = None) -> Dataset:
    """The 6,000 real CIFAR-10 images shipped with the book: 500 training and 100 test per class.

    They are a seeded, class-balanced draw from the JPEG copy's training and
    test sets (tools/build_cifar_subset.py); the file's SHA-256 is checked.
    """
    path = datafiles.CIFAR_SUBSET if path is None else pathlib.Path(path)
    arrays = datafiles.read_cifar10_subset(path)
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    source = (f"CIFAR-10 SUBSET (real photos, JPEG copy, quality 75; not the full dataset): "
              f"{len(ytr):,} training + {len(yte):,} test images, {len(ytr) // 10:,} and "
              f"{len(yte) // 10:,} per class, shipped with the book in {datafiles.show(path)}")
    if reason:
        source += f"; {reason}"
    return make_dataset("CIFAR-10 subset", xtr, ytr, xte, yte, CIFAR10_CLASSES, source)


def _from_arrays(name: str, found: tuple[datafiles.Arrays, str],
                 classes: tuple[str, ...]) -> Dataset:
    """A Dataset from what a datafiles.find_* returned, with its `source` line."""
    arrays, where = found
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    source = f"{name}: {len(ytr):,} training + {len(yte):,} test images, {where}"
    return make_dataset(name, xtr, ytr, xte, yte, classes, source)
