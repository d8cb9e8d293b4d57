"""Data sources: the offline sample, IDX folders, corrupt files, and the full-MNIST download path
(served from a loopback HTTP server, since MNIST cannot be downloaded here)."""

import gzip
import hashlib

import numpy as np
import pytest
import torch

from mnist_core.config import TrainConfig
from mnist_core.data import sources as data
from mnist_core.data.errors import DataError
from mnist_core.data.preprocess import make_split, split_train_val, to_float
from tests.fakes import fake_mnist, idx_bytes


@pytest.fixture
def idx_folder(tmp_path):
    folder = tmp_path / "idx"
    folder.mkdir()
    for name, content in fake_mnist().items():
        (folder / name).write_bytes(content)
    return folder


def test_sample_is_real_balanced_and_split_like_mnist():
    pool, test = data.load_train_pool("sample"), data.load_test("sample")
    assert len(pool) + len(test) == 5000
    assert len(test) == pytest.approx(5000 / 7, abs=10)
    assert pool.images.dtype == torch.uint8 and pool.images.shape[1:] == (28, 28)
    assert (
        torch.bincount(test.labels, minlength=10).tolist() == [71] * 10
        or torch.bincount(test.labels, minlength=10).min() >= 70
    )
    assert int(pool.images.max()) == 255  # raw pixels, not normalized yet
    # pool and test never share an image
    pool_set = {bytes(x.numpy()) for x in pool.images}
    assert not any(bytes(x.numpy()) in pool_set for x in test.images)


def test_auto_uses_sample_until_mnist_is_downloaded(mirror, tmp_path):
    url, files = mirror
    cache = tmp_path / "c"
    info = data.resolve_source("auto", cache)
    assert info.kind == "sample" and "not downloaded" in info.note
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in files.items()]
    data.download_mnist(cache, mirrors=[url], resources=resources)
    info = data.resolve_source("auto", cache)
    assert info.kind == "mnist" and "on disk" in info.note


def test_download_from_loopback_mirror_with_progress(mirror, tmp_path):
    url, files = mirror
    cache = tmp_path / "c"
    seen = []
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in files.items()]
    data.download_mnist(
        cache,
        progress=lambda done, total, msg: seen.append((done, total, msg)),
        mirrors=[url],
        resources=resources,
    )
    assert seen and seen[-1][0] == seen[-1][1]
    pool = data.load_train_pool("mnist", cache)
    test = data.load_test("mnist", cache)
    assert (len(pool), len(test)) == (120, 30)
    assert pool.labels[:10].tolist() == list(range(10))
    # the second load comes from the .npz cache and gives the same tensors
    data._idx_part.cache_clear()
    again = data.load_train_pool("mnist", cache)
    assert torch.equal(again.images, pool.images)
    assert (cache / "mnist" / "train.npz").is_file()


def test_download_with_wrong_checksum_fails_clearly(mirror, tmp_path):
    url, files = mirror
    resources = [(name, "0" * 32) for name in files]
    with pytest.raises(DataError, match="offline sample"):
        data.download_mnist(tmp_path / "c", mirrors=[url], resources=resources)


def test_download_without_network_suggests_the_sample(tmp_path):
    with pytest.raises(DataError, match="offline sample"):
        data.download_mnist(tmp_path / "c", mirrors=["http://127.0.0.1:9/"])


def test_idx_folder_plain_and_gz(idx_folder):
    pool = data.load_train_pool(str(idx_folder))
    assert len(pool) == 120
    # uncompressed files work too
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (idx_folder / name).write_bytes(gzip.decompress((idx_folder / (name + ".gz")).read_bytes()))
        (idx_folder / (name + ".gz")).unlink()
    data._idx_part.cache_clear()
    assert len(data.load_test(str(idx_folder))) == 30


def test_test_files_alone_are_enough_for_the_test_set(idx_folder):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (idx_folder / name).unlink()
    assert len(data.load_test(str(idx_folder))) == 30
    data._idx_part.cache_clear()
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        data.load_train_pool(str(idx_folder))


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda b: b[: len(b) // 2], "truncated|damaged"),  # cut gzip stream
        (lambda b: b"not a gzip file at all", "could not be read"),
        (lambda b: gzip.compress(gzip.decompress(b)[:-100]), "truncated"),  # IDX body too short
        (lambda b: gzip.compress(b"\x00\x00\x09\x03" + gzip.decompress(b)[4:]), "magic"),
    ],
)
def test_corrupt_files_name_the_file(idx_folder, damage, words):
    path = idx_folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    data._idx_part.cache_clear()
    with pytest.raises(DataError, match=words) as err:
        data.load_train_pool(str(idx_folder))
    assert "train-images-idx3-ubyte" in str(err.value)


def test_mismatched_counts_and_bad_source(idx_folder):
    (idx_folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7))))
    data._idx_part.cache_clear()
    with pytest.raises(DataError, match="do not belong together"):
        data.load_train_pool(str(idx_folder))
    with pytest.raises(DataError, match="not 'auto'"):
        data.resolve_source("/no/such/folder")


def _counts(images: data.Images) -> list[int]:
    return torch.bincount(images.labels, minlength=10).tolist()


def test_label_counts_match_the_loaded_labels_for_every_source(mirror, idx_folder, tmp_path):
    assert data.label_counts("sample", "train") == _counts(data.load_train_pool("sample"))
    assert data.label_counts("sample", "test") == _counts(data.load_test("sample"))
    folder = str(idx_folder)
    assert data.label_counts(folder, "train") == _counts(data.load_train_pool(folder))
    assert data.label_counts(folder, "test") == _counts(data.load_test(folder))
    cache = tmp_path / "c"
    with pytest.raises(DataError, match="not downloaded"):  # counting never starts a download
        data.label_counts("mnist", "train", cache)
    url, files = mirror
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in files.items()]
    data.download_mnist(cache, mirrors=[url], resources=resources)
    from_idx = data.label_counts("mnist", "test", cache)
    assert from_idx == _counts(data.load_test("mnist", cache))  # this load writes test.npz
    assert (cache / "mnist" / "test.npz").is_file()
    assert data.label_counts("mnist", "test", cache) == from_idx  # now read from the .npz


def test_label_counts_name_a_missing_labels_file(idx_folder):
    (idx_folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        data.label_counts(str(idx_folder), "test")


def test_split_is_seeded_disjoint_and_8_to_2():
    pool = data.load_train_pool("sample")
    train, val = split_train_val(pool, 0.2, seed=0)
    assert len(train) + len(val) == len(pool)
    assert len(val) == round(len(pool) * 0.2)
    again, _ = split_train_val(pool, 0.2, seed=0)
    assert torch.equal(train.labels, again.labels)
    other, _ = split_train_val(pool, 0.2, seed=1)
    assert not torch.equal(train.labels, other.labels)


def test_full_mnist_sizes_would_be_48000_12000():
    from mnist_core.data.preprocess import split_sizes

    assert split_sizes(60000, 0.2) == (48000, 12000)


def test_make_split_caps_and_appends_extra():
    cfg = TrainConfig(max_train_samples=100)
    extra = data.Images(torch.zeros(5, 28, 28, dtype=torch.uint8), torch.full((5,), 3))
    split = make_split("sample", cfg, extra=extra)
    assert len(split.train) == 105 and split.extra_train == 5
    assert split.sizes()["val"] == round(len(data.load_train_pool("sample")) * 0.2)


def test_to_float_scales_to_unit_range():
    x = to_float(torch.tensor([[[0, 255] * 14] * 28], dtype=torch.uint8))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0
