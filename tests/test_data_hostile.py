"""helpers.datafiles against broken and hostile files: each is refused by name, or rebuilt.

A damaged decoded CIFAR cache is rebuilt from the JPEGs; a gzip bomb, a JPEG
header claiming a huge picture, a dangling link and a FIFO are refused with a
DataFileError naming the file, without filling memory or blocking.
"""

import gzip
import os
import signal
import tracemalloc
import zlib

import numpy as np
import pytest
import torch

from helpers import data, datafiles
from tests.test_data import (jpeg_bytes, make_idx_folder, places, tiny_cifar,  # noqa: F401 (fixtures)
                             tiny_jpeg_files, write_archive, write_cifar_batches, write_folder)


@pytest.fixture
def deadline():
    """Fail a test that blocks (a read from a FIFO never returns) instead of hanging the run."""
    def stuck(*args):
        raise TimeoutError("the read blocked")
    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- the decoded CIFAR cache


def _cache(places):
    caches = list((places["book"] / "downloads").glob("cifar10-jpeg-*.npz"))
    assert len(caches) == 1
    return caches[0]


@pytest.mark.parametrize("damage", ["truncated", "bit flipped", "labels out of range", "labels shuffled"])
def test_a_damaged_cifar_cache_is_rebuilt_from_the_jpegs(tiny_cifar, places, damage):
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    first = data.load_cifar10()
    cache = _cache(places)
    blob = cache.read_bytes()
    if damage == "truncated":
        cache.write_bytes(blob[:len(blob) // 2])
    elif damage == "bit flipped":                     # one bit in the middle of the images
        flipped = bytearray(blob)
        flipped[len(blob) // 3] ^= 0x01
        cache.write_bytes(bytes(flipped))
    else:
        with np.load(cache) as f:
            arrays = {k: f[k] for k in f.files}
        labels = arrays["train_labels"]
        arrays["train_labels"] = (np.where(labels == 3, 200, labels) if damage == "labels out of range"
                                  else labels[::-1].copy())
        with open(cache, "wb") as f:
            np.savez(f, **arrays)
    again = data.load_cifar10()
    assert torch.equal(again.train.images, first.train.images)
    assert torch.equal(again.train.labels, first.train.labels)
    assert int(again.train.labels.max()) == 9
    assert cache.read_bytes() == blob                  # the cache was written again, whole


@pytest.mark.parametrize("claim", [b"(999999999999,)", b"(9999999999999"])  # huge; unparsable
def test_a_cache_whose_header_claims_a_huge_array_is_rebuilt_unread(tiny_cifar, places, claim):
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    first = data.load_cifar10()
    cache = _cache(places)
    blob = cache.read_bytes()
    header = b"(30, 3, 32, 32)"
    assert blob.count(header) == 1 and len(claim) <= len(header)
    cache.write_bytes(blob.replace(header, claim.ljust(len(header))))
    assert torch.equal(data.load_cifar10().train.images, first.train.images)
    assert cache.read_bytes() == blob


# --------------------------------------------------------------------------- gzip bombs and huge headers


def gzip_bomb(path, header: bytes, zeros: int) -> None:
    """`header` and then `zeros` zero bytes, gzipped a megabyte at a time (a small file)."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        chunk = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(chunk)


@pytest.mark.parametrize("claimed, words", [
    ((200_000_000,), "more than the 67,108,864"),                 # the header tells the truth
    ((5,), "holds more"),                                          # the header lies
])
def test_a_gzip_bomb_is_refused_without_unpacking_it(tmp_path, claimed, words):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    header = bytes([0, 0, 8, len(claimed)]) + np.array(claimed, dtype=">u4").tobytes()
    gzip_bomb(path, header, 200 << 20)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(data.DataFileError, match=words) as err:
            datafiles.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 8 << 20, f"{peak:,} bytes read for a refused file"


def test_a_plain_idx_file_larger_than_any_is_refused_before_reading(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([5], dtype=">u4").tobytes())
        f.truncate(datafiles.MAX_FILE_BYTES + 1)            # sparse: no disk used
    with pytest.raises(data.DataFileError, match=r"67,108,865 bytes"):
        datafiles.read_idx(path)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 32x32 JPEG whose frame header (SOF0) claims another size."""
    blob = bytearray(jpeg_bytes(7))
    sof = blob.index(b"\xff\xc0")
    blob[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(blob)


@pytest.mark.parametrize("width, height, words", [
    (65_000, 65_000, "decode.*exceeds limit"),                       # PIL's own bomb error
    (10_000, 10_000, "decode.*decompression bomb"),                  # PIL would only warn
    (2_000, 1_000, "2000x1000.*32x32"),
])
def test_a_jpeg_header_claiming_a_huge_image_is_refused_undecoded(width, height, words):
    tracemalloc.start()
    try:
        with pytest.raises(data.DataFileError, match=words) as err:
            datafiles.decode_jpeg(jpeg_claiming(width, height), "train/cat/0001.jpg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "train/cat/0001.jpg" in str(err.value)
    assert peak < 8 << 20


def test_a_huge_member_of_the_jpeg_archive_is_refused_unread(tiny_cifar):
    files = dict(tiny_jpeg_files())
    files["train/cat/0001.jpg"] = bytes(datafiles.MAX_JPEG_BYTES + 1)
    archive = write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, list(files.items()))
    with pytest.raises(data.DataFileError, match=r"train/cat/0001.jpg.*65,537 bytes") as err:
        data.load_cifar10()
    assert str(archive) in str(err.value)


def test_an_archive_that_unpacks_to_too_much_is_refused(tiny_cifar, monkeypatch):
    monkeypatch.setattr(datafiles, "MAX_ARCHIVE_BYTES", 20_000)  # the tiny copy unpacks to ~80 KB
    write_archive(tiny_cifar / datafiles.CIFAR_JPEG_ARCHIVE, tiny_jpeg_files())
    with pytest.raises(data.DataFileError, match="unpacks to more than 20,000"):
        data.load_cifar10()


# --------------------------------------------------------------------------- links, FIFOs, devices


@pytest.mark.parametrize("kind, words", [
    ("dangling link", "dangling symbolic link"),
    ("fifo", "FIFO"),
    ("device", "device"),
    ("huge", "65,537 bytes"),
])
def test_an_extracted_jpeg_copy_refuses_what_is_not_a_small_regular_file(tiny_cifar, deadline, kind, words):
    folder = write_folder(tiny_cifar / datafiles.CIFAR_JPEG, tiny_jpeg_files())
    bad = folder / "train" / "cat" / "0001.jpg"
    bad.unlink()
    if kind == "dangling link":
        os.symlink(folder / "nowhere.jpg", bad)
    elif kind == "fifo":
        os.mkfifo(bad)
    elif kind == "device":
        os.symlink("/dev/null", bad)                   # a device (/dev/zero would never end)
    else:
        bad.write_bytes(bytes(datafiles.MAX_JPEG_BYTES + 1))
    with pytest.raises(data.DataFileError, match=words) as err:
        data.load_cifar10()
    assert str(bad) in str(err.value)


def test_idx_files_that_are_a_fifo_or_a_dangling_link(places, deadline, tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    with pytest.raises(data.DataFileError, match="FIFO"):
        datafiles.read_idx(fifo)
    link = tmp_path / "t10k-images-idx3-ubyte.gz"
    os.symlink(tmp_path / "gone.gz", link)
    with pytest.raises(data.DataFileError, match="dangling symbolic link"):
        datafiles.read_idx(link)
    # In a data folder they are not the data: the search goes on to the next place.
    folder = make_idx_folder(places["book"] / "mnist", label=1, compress=False)
    (folder / "train-images-idx3-ubyte").unlink()
    os.mkfifo(folder / "train-images-idx3-ubyte")
    assert data.load_mnist().source.startswith("MNIST SUBSET")


def test_a_gzip_stream_that_is_cut_or_damaged_inside_is_named(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = bytes([0, 0, 8, 1]) + np.array([1000], dtype=">u4").tobytes() + bytes(range(250)) * 4
    z = zlib.compressobj(9, zlib.DEFLATED, 31)                 # gzip wrapper
    good = z.compress(raw) + z.flush()
    bad = bytearray(good)
    bad[-6] ^= 0xFF                                            # the CRC-32 at the end
    path.write_bytes(bytes(bad))
    with pytest.raises(data.DataFileError, match="cannot read") as err:
        datafiles.read_idx(path)
    assert str(path) in str(err.value)
    path.write_bytes(good)
    assert datafiles.read_idx(path).shape == (1000,)


@pytest.mark.parametrize("kind, words", [("fifo", "FIFO"), ("dangling link", "dangling symbolic link"),
                                         ("huge", "67,108,865 bytes")])
def test_cifar_batches_that_are_not_small_regular_files_are_refused_unread(places, monkeypatch, deadline,
                                                                           kind, words):
    folder = places["book"] / datafiles.CIFAR_DIR
    write_cifar_batches(folder, monkeypatch)
    bad = folder / "data_batch_2"
    bad.unlink()
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "dangling link":
        os.symlink(folder / "gone", bad)
    else:
        with open(bad, "wb") as f:
            f.truncate(datafiles.MAX_FILE_BYTES + 1)                # sparse: no disk used
    with pytest.raises(data.DataFileError, match=words) as err:
        datafiles.read_cifar10(folder)
    assert str(bad) in str(err.value)
    if kind != "huge":  # found only when every file is there: the search goes on to the subset
        assert data.load_cifar10().source.startswith("CIFAR-10 SUBSET")
