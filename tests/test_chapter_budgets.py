"""The training chapters' budget cells on full-size data, the way Colab runs them.

In Colab `load_mnist()` and `load_cifar10()` return the full datasets
(downloaded), whatever this machine has. These tests hand the chapters
full-size stand-in tensors (random bytes, no training) and run every code cell
up to and including the one tagged `budget`, with and without CNN_BOOK_FAST,
so that a budget that asserts a size, or breaks on 50,000 images, fails here.
"""

import matplotlib
import nbformat
import numpy as np
import pytest

from helpers import data
from tools import notebooks

matplotlib.use("Agg")

FULL = {"06_mnist.ipynb": ("load_mnist", (1, 28, 28), 60_000, 10_000, data.MNIST_CLASSES),
        "07_cifar10.ipynb": ("load_cifar10", (3, 32, 32), 50_000, 10_000, data.CIFAR10_CLASSES),
        "12_training_modern.ipynb": ("load_cifar10", (3, 32, 32), 50_000, 10_000,
                                     data.CIFAR10_CLASSES),
        "13_residuals_transfer.ipynb": ("load_cifar10", (3, 32, 32), 50_000, 10_000,
                                        data.CIFAR10_CLASSES),
        "14_training_fast.ipynb": ("load_cifar10", (3, 32, 32), 50_000, 10_000,
                                   data.CIFAR10_CLASSES)}


def full_size(shape, n_train, n_test, classes):
    rng = np.random.default_rng(0)

    def split(n):
        images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        images[:, :, 0, :] = 0                   # a dark top row, as in a real digit or photo
        return images, np.arange(n) % len(classes)   # every class equally often
    (xtr, ytr), (xte, yte) = split(n_train), split(n_test)
    return data.make_dataset("full-size stand-in", xtr, ytr, xte, yte, classes,
                             f"full-size stand-in: {n_train:,} training + {n_test:,} test images")


@pytest.fixture(scope="module")
def datasets():
    made = {}   # chapters that load the same dataset share one stand-in
    for spec in FULL.values():
        if spec[1:] not in made:
            made[spec[1:]] = full_size(*spec[1:])
    return {name: made[spec[1:]] for name, spec in FULL.items()}


@pytest.mark.parametrize("fast", ["1", "0"])
@pytest.mark.parametrize("chapter", sorted(FULL))
def test_budget_cells_take_what_they_need_from_full_data(chapter, fast, datasets, monkeypatch):
    monkeypatch.setenv("CNN_BOOK_FAST", fast)
    loader = FULL[chapter][0]
    monkeypatch.setattr(data, loader, lambda *args, **kwargs: datasets[chapter])
    nb = nbformat.read(notebooks.CHAPTERS / chapter, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    last = next(i for i, c in enumerate(code) if "budget" in c.metadata.get("tags", []))
    namespace = {}
    for cell in code[:last + 1]:
        exec(compile(cell.source, f"{chapter} cell", "exec"), namespace)
    matplotlib.pyplot.close("all")
    train_split, val_split = namespace["train_split"], namespace["val_split"]
    n_train = FULL[chapter][2]
    if fast == "1":
        assert len(train_split) <= 3_000
    else:
        assert len(train_split) + len(val_split) == n_train and len(val_split) == n_train // 10
    assert len(namespace["test_split"]) <= FULL[chapter][3]
