"""Image augmentation for training: small random affine warps of a batch on its own device.

Each batch warps a random three quarters of its images and keeps the rest as they are, and the
last twelfth of the epochs trains on the images as they are, so the annealed final steps fit
undistorted digits. Measured like label smoothing (default CNN, offline sample, validation
accuracy over 12 seeds on each of two train/validation partitions): each alone +0.06 %, paired
seed for seed; the default recipe with both (batch 512, 60 epochs) 98.92 % against 98.87 % for
batch 256, 50 epochs.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

WARPED_SHARE = 0.75
CLEAN_EPOCH_SHARE = 1 / 12


def _grid_basis() -> torch.Tensor:
    """(6, 28·28·2): the fixed matrix that maps a batch of flattened 2×3 affine matrices to
    grid_sample's sampling grid in one plain matrix product, already in the (N, 28, 28, 2) layout.

    Row (k, j) holds the pixel centres' coordinate j (x, y or 1, in grid_sample's [-1, 1] space)
    in the output slots of coordinate k, zeros elsewhere. F.affine_grid (a batched 3-wide matmul)
    or a (784, 3) @ (3, 2N) product plus a permuted copy took ~1.3 ms per batch of 256 on a CPU,
    a fifth of a training step; this takes ~0.05 ms.
    """
    lin = (torch.arange(28, dtype=torch.float32) * 2 + 1) / 28 - 1
    centres = torch.stack([lin.repeat(28), lin.repeat_interleave(28), torch.ones(784)])  # (3, 784)
    basis = torch.zeros(2, 3, 784, 2)
    for k in range(2):
        basis[k, :, :, k] = centres
    return basis.reshape(6, 784 * 2)


# one copy per device, so a GPU step never waits for a host-to-device copy
_GRID_BASIS = {torch.device("cpu"): _grid_basis()}


def _basis(device: torch.device) -> torch.Tensor:
    if device not in _GRID_BASIS:
        _GRID_BASIS[device] = _GRID_BASIS[torch.device("cpu")].to(device)
    return _GRID_BASIS[device]


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random affine jitter (±2 px shift, ±10° rotation, ±10 % scale) for a float batch;
    `gen` lives on the batch's device."""
    n = x.shape[0]
    r = torch.rand(n, 4, generator=gen, device=x.device)
    angle = (r[:, 0] - 0.5) * (2 * math.pi / 18)
    scale = 1.0 + (r[:, 1] - 0.5) * 0.2
    shift = (r[:, 2:] - 0.5) * (2 * 2 / 14)  # ±2 px in normalised [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([cos, -sin, shift[:, 0], sin, cos, shift[:, 1]], 1)
    return F.grid_sample(x, sampling_grid(theta), align_corners=False, padding_mode="zeros")


def augment_batch(x: torch.Tensor, gen: torch.Generator, share: float = WARPED_SHARE) -> torch.Tensor:
    """`augment` applied in place to the first `share` of a batch of shuffled images (a random
    subset, since batches are drawn in random order); the others are left as they are."""
    k = round(len(x) * share)
    if k:
        x[:k] = augment(x[:k], gen)
    return x


def clean_epochs(epochs: int) -> int:
    """How many of a run's last epochs train without image augmentation (0 for short runs)."""
    return round(epochs * CLEAN_EPOCH_SHARE)


def sampling_grid(theta: torch.Tensor) -> torch.Tensor:
    """F.affine_grid(theta.view(N, 2, 3), (N, 1, 28, 28), align_corners=False), computed faster."""
    return (theta.reshape(-1, 6) @ _basis(theta.device)).view(-1, 28, 28, 2)
