"""MNIST's IDX files (plain or gzipped) with NumPy: reading them, refusing damaged or hostile
ones, and writing them (the collected drawings' download).

A header is checked against MNIST-like limits before anything is allocated, and exactly the
declared number of bytes is read, so a gzip bomb or a forged header costs at most the declared
size. No torch here: counting labels (Home) needs only NumPy.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_core.data.errors import DataError
from mnist_core.files import FileRefused, open_regular

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX limits: MNIST has 70,000 images; a header declaring more is damaged or hostile.
MAX_IDX_IMAGES = 1_000_000
IDX_CHUNK = 1 << 20  # bytes read (and decompressed) per step


def find_idx(folder: Path, stem: str) -> Path | None:
    """The IDX file `stem` in `folder` (plain or .gz; also MNIST/raw below it, as torchvision lays it out)."""
    for base in (folder, folder / "MNIST" / "raw", folder / "raw"):
        for name in (stem, stem + ".gz"):
            if (base / name).is_file():
                return base / name
    return None


def read_idx(path: Path, expected_ndim: int) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) of unsigned bytes, with errors that name the file.

    The header is read first and checked against MNIST-like limits; then exactly the declared
    number of bytes is read from the stream, chunk by chunk, into one buffer whose pages are only
    touched as data arrives. A gzip bomb or a forged header therefore never costs more than the
    declared size (at most MAX_IDX_IMAGES images of 28×28), and a stream holding more or less
    than declared is refused.
    """
    path = Path(path)
    try:
        # open_regular: a FIFO or a device named like an IDX file is refused, never waited on
        with open_regular(path, what="IDX file") as raw, _stream(raw, path) as fh:
            shape = _idx_header(fh, path, expected_ndim)
            size = int(np.prod(shape))
            if path.suffix != ".gz":
                _check_plain_size(path, fh, size)
            data = _read_exactly(fh, path, size)
            if fh.read(1):
                raise DataError(
                    f"{path} holds more data than its header declares ({size:,} bytes): "
                    "the file is damaged or not what its name says. Download or copy "
                    "it again."
                )
    except FileRefused as exc:
        raise DataError(str(exc)) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} could not be read ({exc}). The file is damaged or truncated: "
            "delete it and download or copy it again."
        ) from exc
    return data.reshape(shape)


def _stream(raw: BinaryIO, path: Path) -> BinaryIO:
    """The opened file itself, or a decompressing reader on it for a .gz file."""
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix == ".gz" else nullcontext(raw)  # type: ignore[return-value]


def _idx_header(fh: BinaryIO, path: Path, expected_ndim: int) -> tuple[int, ...]:
    """The shape an IDX header declares, refused unless MNIST-like (n×28×28 images, n labels)."""
    magic = fh.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != 0x08:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (bad magic number). Use the original MNIST files."
        )
    ndim = magic[3]
    if ndim != expected_ndim:
        raise DataError(
            f"{path} has {ndim} dimensions, expected {expected_ndim} "
            "(images have 3, labels 1): are the file names swapped?"
        )
    dims = fh.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{path} is truncated (incomplete header). Download or copy it again.")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if shape[0] > MAX_IDX_IMAGES:
        raise DataError(
            f"{path} declares {shape[0]:,} entries; at most {MAX_IDX_IMAGES:,} are "
            "accepted (MNIST has 70,000). The file is damaged or not MNIST."
        )
    if ndim == 3 and shape[1:] != (28, 28):
        raise DataError(f"{path} holds {shape[1]}×{shape[2]} images, not 28×28.")
    return shape


def _check_plain_size(path: Path, fh: BinaryIO, size: int) -> None:
    # an uncompressed file shows its length up front: refuse before allocating anything
    held = os.fstat(fh.fileno()).st_size - fh.tell()
    if held != size:
        raise DataError(
            f"{path} is truncated or damaged: the header promises {size:,} bytes of "
            f"data, the file holds {held:,}. Download or copy it again."
        )


def _read_exactly(fh: BinaryIO, path: Path, size: int) -> np.ndarray:
    # np.empty leaves pages untouched until written, so a forged size costs no memory until the
    # data really arrives; small chunks keep the decompressor's own buffer small too
    out = np.empty(size, dtype=np.uint8)
    view, got = memoryview(out), 0
    while got < size:
        n = fh.readinto(view[got : got + IDX_CHUNK])
        if not n:
            raise DataError(
                f"{path} is truncated or damaged: the header promises {size:,} bytes of "
                f"data, the file holds {got:,}. Download or copy it again."
            )
        got += n
    return out


def idx_labels(folder: Path, part: str, use_npy_cache: bool) -> np.ndarray:
    npy = folder.parent / f"{part}.npz"
    if use_npy_cache and npy.is_file():
        try:
            with np.load(npy) as z:
                return z["labels"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache: the IDX file below still holds the labels
    stem = IDX_FILES[part][1]
    path = find_idx(folder, stem)
    if path is None:
        raise DataError(f"{folder} has no {stem}[.gz]: the folder needs the four MNIST IDX files.")
    return read_labels(path)


def read_labels(path: Path) -> np.ndarray:
    """An IDX labels file, checked to hold digits 0-9 only."""
    labels = read_idx(path, 1)
    if labels.size and labels.max() > 9:
        raise DataError(f"{path} holds label {labels.max()}, not a digit 0-9.")
    return labels


def idx_bytes(data: np.ndarray, *, magic: int) -> bytes:
    """IDX: big-endian int32 magic and dimensions, then the raw uint8 values; gzipped (mtime 0: reproducible)."""
    header = struct.pack(f">{1 + data.ndim}i", magic, *data.shape)
    return gzip.compress(header + np.ascontiguousarray(data, dtype=np.uint8).tobytes(), mtime=0)
