"""From raw uint8 images to what a model trains on: /255 scaling and the seeded train/validation split.

The split is the one place that decides which images the model learns from and which
judge its hyperparameters, so it lives here, seeded and reproducible
(60,000 → 48,000 / 12,000 on full MNIST with the default 0.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images, SourceInfo, load_train_pool, resolve_source


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [0, 1]: the only scaling the models see."""
    return images.to(torch.float32).div_(255.0).unsqueeze(1)


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    n_val = int(round(n * val_fraction))
    return n - n_val, n_val


def split_indices(n: int, val_fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool positions of the train and validation parts: one seeded permutation, cut once."""
    n_train, _ = split_sizes(n, val_fraction)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n_train], order[n_train:]


def split_train_val(
    pool: Images, val_fraction: float = 0.2, seed: int = 0, max_train: int = 0
) -> tuple[Images, Images]:
    """A seeded random split of the training pool into train and validation, the train part cut
    to its first `max_train` images when that is set (0: all). The cut is made on the indices,
    before any image is copied: a pool far larger than the run needs costs no second copy."""
    train_index, val_index = split_indices(len(pool), val_fraction, seed)
    if max_train:
        train_index = train_index[:max_train]  # the order is already shuffled
    return pool.subset(train_index), pool.subset(val_index)


@dataclass(frozen=True)
class DataSplit:
    """What one training run sees: train and validation sets plus where they came from."""

    train: Images
    val: Images
    source: SourceInfo
    extra_train: int = 0  # collected drawings appended to `train`
    # Pool positions of `train` (its first len(train_index) images; drawings follow) and of `val`;
    # None for splits built from other images. Review decisions name images by these positions.
    train_index: torch.Tensor | None = None
    val_index: torch.Tensor | None = None

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "extra_train": self.extra_train}


def make_split(
    spec: str, config: TrainConfig, extra: Images | None = None, pool: Images | None = None
) -> DataSplit:
    """Load the pool for `spec`, split it as `config` says, cap the train size, append `extra`."""
    source = resolve_source(spec)
    pool = pool if pool is not None else load_train_pool(source.key)
    train_index, val_index = split_indices(len(pool), config.val_fraction, config.split_seed)
    if config.max_train_samples and config.max_train_samples < len(train_index):
        train_index = train_index[: config.max_train_samples]  # already shuffled by the split
    train, val = pool.subset(train_index), pool.subset(val_index)
    n_extra = 0
    if extra is not None and len(extra):
        train = Images(torch.cat([train.images, extra.images]), torch.cat([train.labels, extra.labels]))
        n_extra = len(extra)
    return DataSplit(train, val, source, n_extra, train_index, val_index)
