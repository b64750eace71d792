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

from helpers import data, datafiles


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
    for split, (images, labels) in datafiles.IDX_FILES.items():
        n = SMALL[split]
        suffix = ".gz" if compress else ""
        pixels = (np.arange(n * 784) % 251).astype(np.uint8).reshape(n, 28, 28)
        write_idx(folder / (images + suffix), pixels, compress)
        write_idx(folder / (labels + suffix), np.full(n, label, np.uint8), compress)
    return folder


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty stand-ins for every place the loaders look; offline unless a test says otherwise."""
    dirs = {k: tmp_path / k for k in ("env", "book", "debian")}
    monkeypatch.setattr(datafiles, "BOOK_DATA", dirs["book"])
    monkeypatch.setattr(datafiles, "DOWNLOADS", dirs["book"] / "downloads")
    monkeypatch.setattr(datafiles, "DEBIAN_FASHION_MNIST", dirs["debian"])
    monkeypatch.setattr(datafiles, "IDX_COUNTS", SMALL)
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
    assert "IDX files in $CNN_BOOK_DATA/fashion-mnist" in ds.source  # the same on every machine


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
        got = datafiles.read_idx(write_idx(tmp_path / name, a, compress))
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
        datafiles.read_idx(path)


def test_wrong_image_count_is_an_error(places):
    folder = make_idx_folder(places["book"] / "mnist", label=1)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))
    with pytest.raises(data.DataFileError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_mnist()


def write_cifar_batches(folder, monkeypatch, per_batch=4):
    """A cifar-10-batches-py folder in the release's format (pickled dicts, rows of 3,072
    bytes: the red plane, then green, then blue), its MD5s given to torchvision's CIFAR10."""
    import pickle

    from torchvision.datasets import CIFAR10

    folder.mkdir(parents=True)

    def dump(name, entry):
        blob = pickle.dumps(entry, protocol=2)
        (folder / name).write_bytes(blob)
        return [name, hashlib.md5(blob).hexdigest()]

    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = (rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                         rng.integers(0, 10, per_batch).tolist())
    md5s = {name: dump(name, {"data": x, "labels": y}) for name, (x, y) in batches.items()}
    meta = dump("batches.meta", {"label_names": list(datafiles.CIFAR10_CLASSES)})
    monkeypatch.setattr(CIFAR10, "train_list", [md5s[f"data_batch_{i}"] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [md5s["test_batch"]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                          "md5": meta[1]})
    return batches


def test_the_original_release_is_read_by_torchvision_in_the_books_layout(places, monkeypatch):
    batches = write_cifar_batches(places["book"] / datafiles.CIFAR_DIR, monkeypatch)
    ds = data.load_cifar10()
    assert ds.source.startswith("CIFAR-10: 20 training + 4 test images, the original release in")
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    expected = np.concatenate([x for x, _ in train]).reshape(-1, 3, 32, 32)  # (N, C, H, W)
    assert np.array_equal(ds.train.images.numpy(), expected)
    assert ds.train.labels.tolist() == [label for _, y in train for label in y]
    assert np.array_equal(ds.test.images.numpy(), batches["test_batch"][0].reshape(-1, 3, 32, 32))


def test_a_corrupt_cifar_batch_is_named(places, monkeypatch):
    folder = places["book"] / datafiles.CIFAR_DIR
    write_cifar_batches(folder, monkeypatch)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(data.DataFileError, match="MD5") as err:
        data.load_cifar10()
    assert str(folder / "data_batch_3") in str(err.value)


# --------------------------------------------------------------------------- the shipped subset


def test_shipped_subset_matches_its_recorded_hash_and_counts():
    digest = hashlib.sha256(datafiles.MNIST_SUBSET.read_bytes()).hexdigest()
    assert digest == datafiles.MNIST_SUBSET_SHA256
    ds = data.load_mnist_subset()
    assert ds.train.images.shape == (8000, 1, 28, 28) and ds.test.images.shape == (2000, 1, 28, 28)
    counts = ds.train.labels.bincount() + ds.test.labels.bincount()
    assert counts.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert ds.train.mean == pytest.approx((0.1309,), abs=1e-4)


def damaged_copy(source, target):
    """A copy of `source` with one byte in the middle flipped."""
    blob = bytearray(source.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    return target


def test_a_changed_subset_file_is_refused(tmp_path):
    copy = damaged_copy(datafiles.MNIST_SUBSET, tmp_path / "mnist-subset.npz")
    with pytest.raises(data.DataFileError, match="SHA-256"):
        data.load_mnist_subset(copy)
    shutil.copy(datafiles.MNIST_SUBSET, copy)
    assert len(data.load_mnist_subset(copy).train) == 8000


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


# --------------------------------------------------------------------------- CIFAR-10, JPEG copy

TINY_PER_CLASS = {"train": 3, "test": 2}


def jpeg_bytes(seed, size=32):
    """A real JPEG of a seeded random picture."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = __import__("io").BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def tiny_jpeg_files(per_class=TINY_PER_CLASS):
    """(path inside cifar10-jpeg/, bytes) for a tiny copy in the JPEG layout."""
    files = []
    for split, n in per_class.items():
        for c, cls in enumerate(datafiles.CIFAR10_CLASSES):
            offset = 500_000 if split == "test" else 1000 * c
            files += [(f"{split}/{cls}/{i:04d}.jpg", jpeg_bytes(offset + 100 * c + i))
                      for i in range(n)]
    return files


def write_archive(path, files):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, blob in files:
            info = tarfile.TarInfo(f"{datafiles.CIFAR_JPEG}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def write_folder(folder, files):
    for name, blob in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(blob)
    return folder


@pytest.fixture
def tiny_cifar(places, monkeypatch):
    monkeypatch.setattr(datafiles, "CIFAR_JPEG_PER_CLASS", TINY_PER_CLASS)
    places["env"].mkdir()
    monkeypatch.setenv(datafiles.DATA_ENV, str(places["env"]))
    return places["env"]


def test_cifar10_is_read_from_the_jpeg_archive_and_says_so(tiny_cifar):
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    ds = data.load_cifar10()
    assert ds.source == ("CIFAR-10 (JPEG copy, quality 75): 30 training + 20 test images, "
                         "from $CNN_BOOK_DATA/cifar10-jpeg.tar.gz")
    assert ds.train.images.shape == (30, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert ds.train.labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert ds.classes == datafiles.CIFAR10_CLASSES


def test_archive_and_extracted_folder_give_the_same_images(tiny_cifar, tmp_path):
    files = tiny_jpeg_files()
    archive = datafiles.read_cifar10_jpeg(write_archive(tmp_path / "a.tar.gz", files))
    folder = datafiles.read_cifar10_jpeg(write_folder(tmp_path / "cifar10-jpeg", files))
    for split in ("train", "test"):
        assert np.array_equal(archive[split][0], folder[split][0])
        assert np.array_equal(archive[split][1], folder[split][1])
    write_folder(tiny_cifar / datafiles.CIFAR_JPEG, files)       # found when extracted too
    assert data.load_cifar10().source.endswith("from $CNN_BOOK_DATA/cifar10-jpeg")


def test_decoded_jpegs_are_cached_by_checksum_and_reused(tiny_cifar, places, monkeypatch):
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    first = data.load_cifar10()
    caches = list((places["book"] / "downloads").glob("cifar10-jpeg-*.npz"))
    assert len(caches) == 1 and not list((places["book"] / "downloads").glob(".*"))

    def no_decoding(*args):
        raise AssertionError("decoded again although the cache is there")
    with monkeypatch.context() as m:
        m.setattr(datafiles, "decode_jpeg", no_decoding)
        second = data.load_cifar10()
    assert torch.equal(first.train.images, second.train.images)
    caches[0].write_bytes(b"damaged")                             # a bad cache is rebuilt
    assert torch.equal(data.load_cifar10().test.images, first.test.images)
    assert caches[0].read_bytes() != b"damaged"


def test_python_batches_win_over_the_jpeg_copy(tiny_cifar, monkeypatch):
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    (tiny_cifar / datafiles.CIFAR_DIR).mkdir()
    images = np.arange(4 * 3 * 32 * 32, dtype=np.uint8).reshape(4, 3, 32, 32)
    fake = {"train": (images, np.arange(4)), "test": (images[:2], np.arange(2))}
    monkeypatch.setattr(datafiles, "has_cifar_batches",
                        lambda folder: folder.name == datafiles.CIFAR_DIR)
    monkeypatch.setattr(datafiles, "read_cifar10", lambda folder: fake)
    ds = data.load_cifar10()
    assert ds.source.startswith("CIFAR-10: 4 training + 2 test images, the original release in")


@pytest.mark.parametrize("damage, message", [
    ("truncate", "archive.*truncated"),
    ("undecodable", "train/cat/0001.jpg.*decode"),
    ("missing class", "test/ship.*missing"),
    ("wrong count", "train/dog.* 2 .*expected 3"),
    ("unknown class", "unknown class.*train/cats"),
    ("wrong size", "train/airplane/0000.jpg.*16x16.*32x32"),
])
def test_a_damaged_jpeg_copy_is_refused_naming_the_file(tiny_cifar, damage, message):
    files = dict(tiny_jpeg_files())
    if damage == "undecodable":
        files["train/cat/0001.jpg"] = b"\xff\xd8 not really a jpeg"
    elif damage == "missing class":
        files = {k: v for k, v in files.items() if not k.startswith("test/ship/")}
    elif damage == "wrong count":
        del files["train/dog/0002.jpg"]
    elif damage == "unknown class":
        files["train/cats/0000.jpg"] = files["train/cat/0000.jpg"]
    elif damage == "wrong size":
        files["train/airplane/0000.jpg"] = jpeg_bytes(1, size=16)
    archive = write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, list(files.items()))
    if damage == "truncate":
        archive.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    with pytest.raises(data.DataFileError, match=message) as err:
        data.load_cifar10()
    assert str(archive) in str(err.value)


def test_offline_cifar10_is_the_shipped_real_subset(places):
    ds = data.load_cifar10()
    assert ds.source.startswith("CIFAR-10 SUBSET (real photos, JPEG copy, quality 75; not the "
                                "full dataset): 5,000 training + 1,000 test images")
    assert "full CIFAR-10 was not found on this machine and was not downloaded" in ds.source
    assert ds.train.labels.bincount().tolist() == [500] * 10
    assert ds.test.labels.bincount().tolist() == [100] * 10


def test_shipped_cifar_subset_matches_its_hash_and_is_refused_when_changed(tmp_path):
    assert hashlib.sha256(datafiles.CIFAR_SUBSET.read_bytes()).hexdigest() == \
        datafiles.CIFAR_SUBSET_SHA256
    assert datafiles.CIFAR_SUBSET.stat().st_size < 3_000_000
    with pytest.raises(data.DataFileError, match="SHA-256"):
        data.load_cifar10_subset(damaged_copy(datafiles.CIFAR_SUBSET, tmp_path / "s.tar.gz"))


def test_cifar_subset_builder_is_reproducible_from_the_full_archive(tmp_path):
    from tools import build_cifar_subset

    members = {("train", c): {f"{i:04d}.jpg": bytes([i % 256, c_i]) for i in range(5000)}
               for c_i, c in enumerate(datafiles.CIFAR10_CLASSES)}
    members |= {("test", c): {f"{i:04d}.jpg": bytes([i % 256, c_i]) for i in range(1000)}
                for c_i, c in enumerate(datafiles.CIFAR10_CLASSES)}
    chosen = build_cifar_subset.select(members)
    assert len(chosen) == 6000 and chosen == build_cifar_subset.select(members)
    build_cifar_subset.write_tar_gz(tmp_path / "a.tar.gz", chosen)
    build_cifar_subset.write_tar_gz(tmp_path / "b.tar.gz", chosen)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


# --------------------------------------------------------------------------- environment


def test_a_read_only_data_dir_falls_back_instead_of_failing(online, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(online))
    monkeypatch.setattr(datafiles.tempfile, "mkdtemp", read_only)
    monkeypatch.setattr(FakeMNIST, "mode", "ok")
    assert data.load_mnist().source.startswith("MNIST SUBSET")


def test_a_data_dir_that_is_a_file_is_a_clear_error(places, monkeypatch, tmp_path):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(datafiles.DATA_ENV, str(tmp_path / "file"))
    with pytest.raises(ValueError, match="CNN_BOOK_DATA.*file.*directory"):
        data.load_mnist()


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_offline_flag_is_parsed_strictly(places, monkeypatch, value):
    monkeypatch.setenv(datafiles.OFFLINE_ENV, value)
    with pytest.raises(ValueError, match="CNN_BOOK_OFFLINE"):
        data.load_mnist()


# --------------------------------------------------------------------------- splits


def test_hold_out_gives_disjoint_seeded_splits():
    split = tiny_split(50)
    rest, held = split.hold_out(10, seed=3)
    assert (len(rest), len(held)) == (40, 10)
    assert sorted(rest.labels.tolist() + held.labels.tolist()) == list(range(50))
    assert torch.equal(held.labels, split.hold_out(10, seed=3)[1].labels)
    assert not torch.equal(held.labels, split.hold_out(10, seed=4)[1].labels)
    assert held.mean == split.mean and rest.std == split.std
    for bad, words in ((0, "between 1 and 49"), (50, "between 1 and 49"), (True, "an int"),
                       (2.5, "an int")):
        with pytest.raises(ValueError, match=f"n must be {words}"):
            split.hold_out(bad)


def test_a_zero_or_nan_std_is_refused_when_the_split_is_made():
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    for std in [(0.0,), (float("nan"),), (-1.0,)]:
        with pytest.raises(ValueError, match="std.*positive"):
            data.Split(images, torch.zeros(2, dtype=torch.long), (0.0,), std)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_num_batches_refuses_a_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        tiny_split().num_batches(bad)


def test_augment_settings_can_turn_the_flip_off():
    split = tiny_split(64)
    g = torch.Generator().manual_seed(0)
    plain = next(split.batches(64))[0]
    x, _ = next(split.batches(64, augment={"flip": False, "padding": 0}, generator=g))
    assert torch.equal(x, plain)
    with pytest.raises(ValueError, match="augment.*dict"):
        next(split.batches(4, augment={"rotate": 10}, generator=g))


def labelled_split(labels):
    images = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)
    return data.Split(images.clone(), torch.tensor(labels), mean=(0.5,), std=(0.25,))


def test_select_keeps_the_classes_asked_for_and_relabels_them_in_that_order():
    split = labelled_split([0, 5, 9, 5, 3, 9, 0])
    picked = split.select([9, 5])
    assert picked.labels.tolist() == [1, 0, 1, 0]              # 9 -> 0 and 5 -> 1: the order given
    assert picked.images[:, 0, 0, 0].tolist() == [1, 2, 3, 5]  # the kept images, in order
    assert (picked.mean, picked.std) == (split.mean, split.std)


def test_select_refuses_missing_or_repeated_classes():
    split = labelled_split([0, 1, 2])
    with pytest.raises(ValueError, match="no image has label 7"):
        split.select([1, 7])
    for bad, words in (([], "at least one"), ([1, 1], "distinct"), ([1.0], "an int"),
                       ([True], "an int"), ([-1], ">= 0")):
        with pytest.raises(ValueError, match=words):
            split.select(bad)


def _tiny(labels, mean=(0.5,)):
    return data.Split(torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8), labels, mean, (0.25,))


@pytest.mark.parametrize("labels, mean, words", [
    (torch.tensor([0.0, 1.0]), (0.5,), "int64"),                   # float labels
    (torch.tensor([0, -1]), (0.5,), "class numbers"),              # a negative label
    (torch.tensor([0, 1]), (float("nan"),), "finite"),             # a NaN mean
    (torch.tensor([0, 1]), ("0.5",), "mean.*number"),                       # not a number
])
def test_a_split_refuses_labels_and_means_it_cannot_train_on(labels, mean, words):
    with pytest.raises(ValueError, match=words):
        _tiny(labels, mean)


def test_take_wants_an_int_and_augment_wants_its_types():
    split = _tiny(torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="n must be an int"):
        split.take(2.0)
    x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    gen = torch.Generator().manual_seed(0)
    for kwargs, words in (({"padding": -1}, "padding .*>= 0"), ({"padding": 2.5}, "padding .*int"),
                          ({"flip": "no"}, "flip .*True or False")):
        with pytest.raises(ValueError, match=words):
            data.augment_batch(x, gen, **kwargs)


def test_a_dataset_refuses_labels_beyond_its_classes():
    split = _tiny(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="only 2 classes"):
        data.Dataset("tiny", split, split, ("a", "b"), "made here")


# --------------------------------------------------------------------------- fast training's augmentation


def test_alternating_flips_show_every_image_both_ways_every_two_epochs():
    first, second, third = (data.alternating_flips(1000, e, seed=3) for e in (1, 2, 3))
    assert torch.equal(second, ~first) and torch.equal(third, first)
    assert 400 < int(first.sum()) < 600                        # a random half to start
    assert not torch.equal(data.alternating_flips(1000, 1, seed=4), first)
    with pytest.raises(ValueError, match="epoch must be"):
        data.alternating_flips(10, 0)


def test_augment_flips_exactly_the_images_a_mask_names():
    x = torch.randn(6, 3, 5, 5)
    mask = torch.tensor([True, False, False, True, True, False])
    out = data.augment_batch(x, torch.Generator().manual_seed(0), flip=mask, padding=0)
    assert torch.equal(out[mask], x[mask].flip(3)) and torch.equal(out[~mask], x[~mask])
    with pytest.raises(ValueError, match="bool of shape"):
        data.augment_batch(x, torch.Generator(), flip=mask[:5], padding=0)


def test_reflect_padding_crops_a_window_of_the_mirrored_image():
    x = torch.randn(16, 2, 6, 6)
    out = data.augment_batch(x, torch.Generator().manual_seed(0), flip=False, padding=2,
                             reflect=True)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(len(x)):
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 6])
                   for dy in range(5) for dx in range(5)), i
    with pytest.raises(ValueError, match="reflect padding must be smaller"):
        data.augment_batch(x, torch.Generator(), padding=6, reflect=True)


def test_batches_apply_each_images_own_flip_whatever_the_order():
    images = torch.arange(8 * 4, dtype=torch.uint8).view(8, 1, 1, 4) * 7     # all different
    split = data.Split(images, torch.zeros(8, dtype=torch.long), mean=(0.0,), std=(1 / 255,))
    mask = torch.tensor([True, False] * 4)
    seen = {}
    for x, _ in split.batches(3, shuffle=True, generator=torch.Generator().manual_seed(1),
                              augment={"flip": mask, "padding": 0}):
        for row in x:
            seen[tuple(row.flatten().tolist())] = True
    plain = split.normalize(images)
    expected = {tuple((plain[i].flip(2) if mask[i] else plain[i]).flatten().tolist()) for i in range(8)}
    assert set(seen) == expected
    with pytest.raises(ValueError, match="one bool per image"):
        next(split.batches(3, generator=torch.Generator(), augment={"flip": mask[:4]}))
