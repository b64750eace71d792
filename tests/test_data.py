"""helpers.data: resolution order, file validation, the shipped subset, the stand-in, batching.

No test touches the network: downloads are either switched off with
CNN_BOOK_OFFLINE=1 or replaced by a fake torchvision class that writes files.
"""

import gzip
import hashlib
import shutil

import numpy as np
import pytest
import torch
import torchvision.datasets

from helpers import data


SMALL = {"train": 20, "test": 10}  # image counts of the fake IDX datasets below


def write_idx(path, array, compress=True):
    """Write a uint8 array as an IDX file (magic 0 0 8 ndim, big-endian dims, bytes)."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    blob = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path


def make_idx_folder(folder, label, compress=True):
    """Four small IDX files whose labels all equal `label`, so a test can tell folders apart."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in data.IDX_FILES.items():
        n = SMALL[split]
        suffix = ".gz" if compress else ""
        write_idx(folder / (images + suffix), np.full((n, 28, 28), 7, np.uint8), compress)
        write_idx(folder / (labels + suffix), np.full(n, label, np.uint8), compress)
    return folder


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty stand-ins for every place the loaders look; offline unless a test says otherwise."""
    dirs = {k: tmp_path / k for k in ("env", "book", "debian")}
    monkeypatch.setattr(data, "BOOK_DATA", dirs["book"])
    monkeypatch.setattr(data, "DOWNLOADS", dirs["book"] / "downloads")
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", dirs["debian"])
    monkeypatch.setattr(data, "IDX_COUNTS", SMALL)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    return dirs


# --------------------------------------------------------------------------- resolution order


def test_env_dir_wins_over_book_dir_and_debian(places, monkeypatch):
    make_idx_folder(places["env"] / "fashion-mnist", label=1)
    make_idx_folder(places["book"] / "fashion-mnist", label=2)
    make_idx_folder(places["debian"], label=3)
    monkeypatch.setenv(data.DATA_ENV, str(places["env"]))
    ds = data.load_fashion_mnist()
    assert set(ds.train.labels.tolist()) == {1}
    assert "$CNN_BOOK_DATA" in ds.source and str(places["env"]) in ds.source


def test_book_dir_wins_over_debian(places):
    make_idx_folder(places["book"] / "fashion-mnist", label=2)
    make_idx_folder(places["debian"], label=3)
    ds = data.load_fashion_mnist()
    assert set(ds.test.labels.tolist()) == {2}
    assert "the book's data directory" in ds.source


def test_debian_install_is_used_when_nothing_else_is_there(places):
    make_idx_folder(places["debian"], label=3)
    ds = data.load_fashion_mnist()
    assert set(ds.train.labels.tolist()) == {3}
    assert "Debian package dataset-fashion-mnist" in ds.source
    assert ds.source.startswith(f"Fashion-MNIST: {SMALL['train']} training + {SMALL['test']} test")


def test_torchvision_layout_and_uncompressed_files_are_found(places, monkeypatch):
    make_idx_folder(places["env"] / "MNIST" / "raw", label=4, compress=False)
    monkeypatch.setenv(data.DATA_ENV, str(places["env"]))
    ds = data.load_mnist()
    assert set(ds.train.labels.tolist()) == {4}
    assert ds.train.images.shape == (SMALL["train"], 1, 28, 28)


def test_an_env_dir_without_the_data_falls_through(places, monkeypatch):
    places["env"].mkdir()
    make_idx_folder(places["book"] / "mnist", label=5)
    monkeypatch.setenv(data.DATA_ENV, str(places["env"]))
    assert set(data.load_mnist().train.labels.tolist()) == {5}


def test_offline_mnist_falls_back_to_the_shipped_subset(places):
    ds = data.load_mnist()
    assert ds.source.startswith("MNIST SUBSET (real digits, not the full dataset): 8,000 training")
    assert "was not found on this machine and was not downloaded" in ds.source
    assert (len(ds.train), len(ds.test)) == (8000, 2000)


def test_offline_fashion_mnist_without_a_copy_says_how_to_get_it(places):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist()


def test_offline_cifar10_is_the_synthetic_stand_in(places):
    ds = data.load_cifar10(standin_size=(1000, 1000))
    assert ds.synthetic
    assert ds.source.startswith("SYNTHETIC STAND-IN, NOT CIFAR-10: 1,000 training + 1,000 test")
    assert ds.classes == data.STANDIN_CLASSES


# --------------------------------------------------------------------------- downloads


class FakeMNIST:
    """Writes what torchvision.datasets.MNIST(root, download=True) would, or fails like it."""

    mode = "ok"

    def __init__(self, root, train=True, download=False):
        raw = make_idx_folder(__import__("pathlib").Path(root) / "MNIST" / "raw", label=6)
        if self.mode == "network":  # a partial file, then the connection drops
            (raw / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: "
                               "<urlopen error [Errno -2] Name or service not known>")
        if self.mode == "truncated":  # torchvision was happy, but the file is short
            path = raw / "t10k-images-idx3-ubyte.gz"
            path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))


@pytest.fixture
def online(places, monkeypatch):
    monkeypatch.delenv(data.OFFLINE_ENV)
    monkeypatch.setenv(data.DATA_ENV, str(places["env"]))
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    return places["env"]


def test_download_lands_in_the_data_dir_and_is_reused(online, monkeypatch):
    monkeypatch.setattr(FakeMNIST, "mode", "ok")
    first = data.load_mnist()
    assert "downloaded by torchvision into" in first.source
    assert sorted(p.name for p in online.iterdir()) == ["MNIST"]  # no temporary folder left
    second = data.load_mnist()
    assert "IDX files in" in second.source
    assert torch.equal(first.train.images, second.train.images)


def test_failed_download_leaves_nothing_and_falls_back(online, monkeypatch):
    monkeypatch.setattr(FakeMNIST, "mode", "network")
    ds = data.load_mnist()
    assert ds.source.startswith("MNIST SUBSET")
    assert "was not found on this machine and was not downloaded" in ds.source
    assert list(online.iterdir()) == []


def test_download_with_a_bad_file_raises_and_leaves_nothing(online, monkeypatch):
    monkeypatch.setattr(FakeMNIST, "mode", "truncated")
    with pytest.raises(data.DataFileError, match="t10k-images-idx3-ubyte.gz"):
        data.load_mnist()
    assert list(online.iterdir()) == []


def test_download_false_never_calls_torchvision(online, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "MNIST", None)  # would fail if called
    assert data.load_mnist(download=False).source.startswith("MNIST SUBSET")


# --------------------------------------------------------------------------- IDX validation


def test_read_idx_round_trip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        name = "x-idx3-ubyte.gz" if compress else "x-idx3-ubyte"
        got = data.read_idx(write_idx(tmp_path / name, a, compress))
        assert got.shape == (2, 3, 4) and np.array_equal(got, a)


@pytest.mark.parametrize("damage", ["truncated", "bad magic", "wrong type", "broken gzip", "extra"])
def test_damaged_idx_files_raise_an_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(write_idx(path, np.ones((5, 28, 28), np.uint8)).read_bytes())
    if damage == "truncated":
        path.write_bytes(gzip.compress(raw[:-10]))
    elif damage == "bad magic":
        path.write_bytes(gzip.compress(b"\x01" + raw[1:]))
    elif damage == "wrong type":
        path.write_bytes(gzip.compress(raw[:2] + b"\x0d" + raw[3:]))
    elif damage == "broken gzip":
        blob = bytearray(path.read_bytes())
        path.write_bytes(bytes(blob[: len(blob) // 2]))
    else:
        path.write_bytes(gzip.compress(raw + b"\x00"))
    with pytest.raises(data.DataFileError, match=str(path)):
        data.read_idx(path)


def test_wrong_image_count_is_an_error(places):
    folder = make_idx_folder(places["book"] / "mnist", label=1)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))
    with pytest.raises(data.DataFileError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_mnist()


def test_a_corrupt_cifar_batch_is_named(places, monkeypatch):
    folder = places["book"] / data.CIFAR_DIR
    folder.mkdir(parents=True)
    train, test = data._cifar_files()
    for name, _ in train + test:
        (folder / name).write_bytes(b"not a pickle")
    with pytest.raises(data.DataFileError, match="data_batch_1"):
        data.load_cifar10()


# --------------------------------------------------------------------------- the shipped subset


def test_shipped_subset_matches_its_recorded_hash_and_counts():
    digest = hashlib.sha256(data.MNIST_SUBSET.read_bytes()).hexdigest()
    assert digest == data.MNIST_SUBSET_SHA256
    ds = data.load_mnist_subset()
    assert ds.train.images.shape == (8000, 1, 28, 28) and ds.test.images.shape == (2000, 1, 28, 28)
    counts = ds.train.labels.bincount() + ds.test.labels.bincount()
    assert counts.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert ds.train.mean == pytest.approx((0.1309,), abs=1e-4)


def test_a_changed_subset_file_is_refused(tmp_path):
    copy = tmp_path / "mnist-subset.npz"
    blob = bytearray(data.MNIST_SUBSET.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    copy.write_bytes(bytes(blob))
    with pytest.raises(data.DataFileError, match="SHA-256"):
        data.load_mnist_subset(copy)
    shutil.copy(data.MNIST_SUBSET, copy)
    assert len(data.load_mnist_subset(copy).train) == 8000


# --------------------------------------------------------------------------- the stand-in


def test_stand_in_is_deterministic_and_seed_dependent():
    a = data.synthetic_cifar10(1200, 1000, seed=0)
    b = data.synthetic_cifar10(1200, 1000, seed=0)
    c = data.synthetic_cifar10(1200, 1000, seed=1)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.train.images, c.train.images)
    assert not torch.equal(a.train.images[:1000], a.test.images)  # train and test differ


def test_stand_in_prefix_does_not_depend_on_the_total():
    small = data.synthetic_cifar10(1500, 1000)
    large = data.synthetic_cifar10(3000, 1000)
    assert torch.equal(small.train.images, large.train.images[:1500])


def test_stand_in_has_cifar_shapes_and_balanced_classes():
    ds = data.synthetic_cifar10(2000, 1000)
    assert ds.train.images.shape == (2000, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert ds.train.labels.bincount().tolist() == [200] * 10
    assert ds.test.labels.bincount().tolist() == [100] * 10
    assert len(ds.classes) == 10
    assert ds.train.images.float().std() > 30  # not blank: real contrast and noise


# --------------------------------------------------------------------------- batching


def tiny_split(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 2, 4, 4), generator=g, dtype=torch.uint8)
    return data.Split(images, torch.arange(n), mean=(0.5, 0.25), std=(0.5, 2.0))


def test_batches_normalise_and_cover_every_image_once():
    split = tiny_split()
    batches = list(split.batches(4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    labels = torch.cat([y for _, y in batches])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    x, y = batches[0]
    expected = (split.images[y].float() / 255 - torch.tensor([0.5, 0.25]).view(1, 2, 1, 1)) \
        / torch.tensor([0.5, 2.0]).view(1, 2, 1, 1)
    assert torch.allclose(x, expected)


def test_batch_order_follows_the_generator_seed():
    split = tiny_split()
    order = lambda s: torch.cat([y for _, y in split.batches(3, shuffle=True,
                                                             generator=torch.Generator().manual_seed(s))])
    assert torch.equal(order(1), order(1)) and not torch.equal(order(1), order(2))


def test_shuffle_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="generator"):
        next(tiny_split().batches(4, shuffle=True))


def test_channel_stats_are_exact():
    split = tiny_split(50)
    mean, std = data.channel_stats(split.images)
    x = split.images.double() / 255
    assert mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-4)
    assert std == pytest.approx(x.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-4)


def test_augment_flips_or_keeps_each_image():
    x = torch.randn(64, 3, 8, 8)
    out = data.augment_batch(x, torch.Generator().manual_seed(0), flip=True, padding=0)
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | flipped).all()) and 10 < int(flipped.sum()) < 54


def test_augment_crop_is_a_shifted_window_of_the_padded_image():
    x = torch.randn(32, 2, 6, 6)
    out = data.augment_batch(x, torch.Generator().manual_seed(0), flip=False, padding=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    shifts = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 6])]
        assert hits, f"image {i} is not a crop of its padded original"
        shifts.add(hits[0])
    assert len(shifts) > 5  # offsets vary from image to image
