"""Statistics for the Data and Preprocess pages: class counts, samples, mean images, pixels, ink.

Everything returns small aggregates (at most a few hundred rows, or one composed image),
never one row per image: charts stay fast and under Altair's 5,000-row limit even on
full MNIST. Inputs are the uint8 (N, 28, 28) images and int64 (N,) labels of `Images`.
"""

from __future__ import annotations

import numpy as np
import torch

from mnist_core.data.baselines import baselines
from mnist_core.data.images import tile
from mnist_core.data.preprocess import split_train_val, to_float
from mnist_core.data.sources import Images

DIGITS = tuple(range(10))
PIXELS = 28 * 28


def class_counts(labels: torch.Tensor) -> list[int]:
    """How many images of each digit 0-9."""
    return [int(c) for c in torch.bincount(labels.flatten().long(), minlength=10)[:10]]


def majority_baseline(labels: torch.Tensor) -> tuple[int, float]:
    """The most common digit and the accuracy of always predicting it on these labels."""
    counts = class_counts(labels)
    if sum(counts) == 0:
        raise ValueError("No labels: the majority-class baseline needs at least one image.")
    base = baselines(counts)
    return base.majority_digit, base.majority_accuracy


def count_rows(counts_by_split: dict[str, list[int]]) -> list[dict]:
    """Long-format rows (split, digit, count, share of the split) for grouped bar charts."""
    rows = []
    for split, counts in counts_by_split.items():
        total = sum(counts) or 1
        rows += [
            {"split": split, "digit": str(d), "count": c, "share": c / total} for d, c in zip(DIGITS, counts)
        ]
    return rows


def split_counts(pool: Images, val_fraction: float, seed: int) -> dict[str, list[int]]:
    """Class counts of the train and validation parts of `pool` (the split training will use)."""
    train, val = split_train_val(pool, val_fraction, seed)
    return {"train": class_counts(train.labels), "validation": class_counts(val.labels)}


def imbalance(counts: list[int]) -> float:
    """Largest class over smallest class (1.0 = perfectly balanced; inf if a digit is missing)."""
    low = min(counts)
    return float("inf") if low == 0 else max(counts) / low


def digit_samples(data: Images, digit: int, n: int = 40, seed: int = 0) -> torch.Tensor:
    """Up to `n` images of `digit`, a seeded random pick (the same pick for the same seed)."""
    if digit not in DIGITS:
        raise ValueError(f"digit must be 0-9, got {digit!r}.")
    idx = torch.nonzero(data.labels == digit).flatten()
    order = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))
    return data.images[idx[order[:n]]]


def digit_columns(data: Images, per_digit: int = 6, seed: int = 0) -> torch.Tensor:
    """`per_digit` rows of ten images, 0 to 9 in each row (tiled ten to a row: a column per
    digit), each digit's a `digit_samples` pick. Every digit must have `per_digit` images."""
    picks = torch.stack([digit_samples(data, d, per_digit, seed=seed) for d in DIGITS])
    return picks.transpose(0, 1).reshape(-1, *picks.shape[2:])


def mean_images(data: Images) -> np.ndarray:
    """The average image of each digit, float (10, 28, 28) in 0-255 (zeros for a missing digit)."""
    out = np.zeros((10, 28, 28), dtype=np.float32)
    for d in DIGITS:
        mask = data.labels == d
        if bool(mask.any()):
            out[d] = data.images[mask].to(torch.float32).mean(0).numpy()
    return out


def mean_image_strip(data: Images, cols: int = 10) -> np.ndarray:
    """The ten mean images side by side (digit 0 first) as one uint8 picture."""
    return tile(np.clip(mean_images(data), 0, 255).round().astype(np.uint8), cols)


CHUNK = 4096  # images per step: keeps temporaries small on full MNIST (47 M pixels)


def zero_fraction(images: torch.Tensor) -> float:
    """Share of pixels that are exactly 0 (pure background)."""
    if not images.numel():
        return 0.0
    zeros = sum(int((images[i : i + CHUNK] == 0).sum()) for i in range(0, len(images), CHUNK))
    return zeros / images.numel()


def intensity_histogram(images: torch.Tensor, bins: int = 32, skip_zero: bool = True) -> list[dict]:
    """Pixel-intensity histogram rows (start, end, count, share); zeros left out by default,
    because the background (about 80 % of MNIST's pixels) would flatten every other bar."""
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be 1-256, got {bins!r}.")
    counts = torch.zeros(256, dtype=torch.int64)
    for i in range(0, len(images), CHUNK):
        counts += torch.bincount(images[i : i + CHUNK].flatten().long(), minlength=256)[:256]
    if skip_zero:
        counts[0] = 0
    edges = np.linspace(0, 256, bins + 1).round().astype(int)
    total = int(counts.sum()) or 1
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        c = int(counts[lo:hi].sum())
        rows.append({"start": int(lo), "end": int(hi), "count": c, "share": c / total})
    return rows


def ink_rows(data: Images, threshold: int = 0) -> list[dict]:
    """Per digit: mean share of pixels with ink (> `threshold`) and the mean ink intensity (0-1)."""
    imgs = data.images.reshape(len(data), -1)
    rows = []
    for d in DIGITS:
        mask = data.labels == d
        if not bool(mask.any()):
            rows.append({"digit": str(d), "ink_fraction": 0.0, "mean_intensity": 0.0, "images": 0})
            continue
        sel = imgs[mask]
        ink = (sel > threshold).to(torch.float32).mean(1)
        rows.append(
            {
                "digit": str(d),
                "ink_fraction": float(ink.mean()),
                "mean_intensity": float(sel.to(torch.float32).mean() / 255.0),
                "images": int(mask.sum()),
            }
        )
    return rows


def scaling_summary(image: torch.Tensor) -> dict[str, dict[str, float]]:
    """Min / max / mean of one uint8 image before and after `to_float` (the /255 scaling)."""
    if image.dtype != torch.uint8 or tuple(image.shape[-2:]) != (28, 28):
        raise ValueError("scaling_summary needs one uint8 28×28 image.")
    raw = image.to(torch.float32)
    scaled = to_float(image.reshape(1, 28, 28))[0, 0]
    return {
        name: {"min": float(t.min()), "max": float(t.max()), "mean": float(t.mean())}
        for name, t in (("raw", raw), ("scaled", scaled))
    }


def pixel_rows(image: torch.Tensor) -> list[dict]:
    """One row per pixel (784): row, col, raw value 0-255 and scaled value 0-1, for a heatmap."""
    scaled = to_float(image.reshape(1, 28, 28))[0, 0]
    return [
        {"row": r, "col": c, "raw": int(image[r, c]), "scaled": round(float(scaled[r, c]), 4)}
        for r in range(28)
        for c in range(28)
    ]


def ink_window(image: torch.Tensor, size: int = 8) -> tuple[int, int]:
    """Top-left corner of the `size`×`size` window holding the most ink pixels: where a
    table of pixel values shows the stroke and its grey edges rather than empty background."""
    if not 1 <= size <= 28:
        raise ValueError(f"size must be 1-28, got {size!r}.")
    ink = (image > 0).to(torch.float32).reshape(1, 1, 28, 28)
    sums = torch.nn.functional.avg_pool2d(ink, size, stride=1)[0, 0]
    top, left = divmod(int(torch.argmax(sums)), sums.shape[1])
    return top, left
