"""Which images get labelled at each size of a learning curve: the choice a labelling strategy makes.

A `Sampler` is handed the training pool, the size to reach, the seed, and what the same seed
labelled at its previous (smaller) size together with the model trained on those images; it
returns the indices of the `size` images to label, a superset of the previous ones, so each
seed's subsets stay nested (the 250 images contain the 125). `measure_curve` calls exactly one
sampler per point; `random_sample`, a seeded, class-balanced random pick, is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from mnist_core.data.sources import Images


@dataclass(frozen=True)
class Labelled:
    """What one seed labelled at its previous size, and the model trained on those images."""

    indices: torch.Tensor
    model: torch.nn.Module


Sampler = Callable[["Images", int, int, "Labelled | None"], "torch.Tensor"]


def nested_order(labels: Any, seed: int) -> Any:
    """A seeded order of all images whose every prefix holds each digit in proportion.

    Subsets are prefixes of it, so the subsets of one seed are nested (250 contains 125).
    Each image of digit d at shuffled position k gets the key (k + u) / count(d), u uniform
    in [0, 1); sorting by the key interleaves the digits evenly.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    keys = torch.empty(len(labels), dtype=torch.float64)
    for digit in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == digit).flatten()
        shuffled = idx[torch.randperm(len(idx), generator=gen)]
        jitter = torch.rand(len(idx), generator=gen, dtype=torch.float64)
        keys[shuffled] = (torch.arange(len(idx), dtype=torch.float64) + jitter) / len(idx)
    return torch.argsort(keys, stable=True)


def random_sample(pool: Images, size: int, seed: int, labelled: Labelled | None) -> torch.Tensor:
    """The first `size` images of the seed's nested, stratified order: a random pick with every
    digit in proportion. It contains what the seed labelled before by construction, so it needs
    neither those images nor their model."""
    return nested_order(pool.labels, seed)[:size]
