"""What a learning-curve measurement will do, known before anything trains: which configurations
can be measured, the training-set sizes (a doubling ladder by default, or checked when typed),
how many seeds each size gets, and how long each point trains.

Small subsets are repeated within an epoch, so every point takes a comparable number of optimizer
steps (fewer for small subsets: steps grow with the square root of the size) without evaluating
the validation set hundreds of times. The largest size trains exactly as its config says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core.config import LADDER, PRESETS, TrainConfig
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES

if TYPE_CHECKING:
    from mnist_core.data.preprocess import DataSplit

MIN_SIZE = 10  # one image per digit
DEFAULT_SIZES_FROM = 125  # the default curve doubles from here
MIN_STEPS = 120  # steps the smallest subset gets (CNN, 125 images: 11 % error after 60, 7-9 % after 120)
MIN_STEPS_PER_EPOCH = 10  # a small subset is repeated so one epoch has at least this many steps
EVAL_COST = 0.3  # one validation image costs about this share of one training image


def measurable_configs() -> dict[str, TrainConfig]:
    """Every named configuration a curve can measure, keyed "preset:NAME" or "ladder:NAME".

    The presets and baseline-ladder rungs that learn (the majority-class baseline does not); a
    rung equal to a preset once the preset's cap on training images is dropped is left out, as
    `plan_curve` drops that cap.
    """
    options = {f"preset:{name}": c for name, c in PRESETS.items() if c.model != "baseline"}
    presets = [c.replace(max_train_samples=0) for c in PRESETS.values()]
    options |= {f"ladder:{name}": c for name, c in LADDER if c.model != "baseline" and c not in presets}
    return options


def default_sizes(n_max: int) -> list[int]:
    """Log-spaced sizes ending with the whole training split: 125, 250, 500, … , n_max.

    Doubling stops before reaching 3/4 of n_max, so the last two points are not nearly the same
    subset. Pools too small for five sizes that way get five geometric steps instead.
    """
    sizes, n = [], DEFAULT_SIZES_FROM
    while n * 4 < n_max * 3:
        sizes.append(n)
        n *= 2
    sizes.append(n_max)
    if len(sizes) < 5:
        low = max(MIN_SIZE, n_max // 16)
        sizes = sorted({int(round(s)) for s in np.geomspace(low, n_max, 5)})
    return sizes


def parse_sizes(text: str) -> list[int]:
    """'250,500,1_000' → [250, 500, 1000]; anything else is a CurveError."""
    try:
        return [int(part.strip().replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CurveError(
            f"--sizes takes whole numbers separated by commas, e.g. 250,500,1000; got {text!r}."
        ) from None


def check_sizes(sizes: Sequence[int], n_max: int) -> list[int]:
    """Sorted distinct sizes, or a CurveError saying what is wrong with them."""
    distinct: set[int] = set()
    for s in sizes:
        if (
            isinstance(s, bool)
            or not isinstance(s, (int, float, np.integer))
            or not math.isfinite(s)
            or s != int(s)
        ):
            raise CurveError(f"Sizes must be whole numbers of images, got {s!r}.")
        distinct.add(int(s))
    values = sorted(distinct)
    if len(values) < MIN_SIZES:
        raise CurveError(
            f"A learning curve needs at least {MIN_SIZES} different sizes (it fits three "
            f"numbers); got {len(values)}: {values}."
        )
    if values[0] < MIN_SIZE:
        raise CurveError(
            f"Size {values[0]} is too small: every size needs at least {MIN_SIZE} images (one per digit)."
        )
    if values[-1] > n_max:
        raise CurveError(
            f"Size {values[-1]:,} is larger than the training split ({n_max:,} images; "
            "the validation images are held out): use sizes up to "
            f"{n_max:,}."
        )
    return values


@dataclass(frozen=True)
class PointPlan:
    """One training of the curve: `size` images (seed `seed`) repeated `repeats` times per epoch."""

    size: int
    seed: int
    repeats: int
    epochs: int
    steps: int  # optimizer steps, about: epochs × batches per epoch
    patience: int  # early stopping on validation loss: the config's (0 = off)
    cost: float  # relative time, for the progress bar

    def to_dict(self) -> dict[str, Any]:
        # the cost only weighs the progress bar: it is not part of a point's record
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cost"}


def point_schedule(config: TrainConfig, size: int, top: int, n_val: int, seed: int = 0) -> PointPlan:
    """How long one point trains: the largest size trains exactly as `config` says; a smaller
    one gets steps ∝ √size (at least MIN_STEPS), in about `config.epochs` epochs of ≥ 10 steps."""
    bs = config.batch_size
    top_steps = config.epochs * math.ceil(top / bs)
    steps = round(min(top_steps, max(min(top_steps, MIN_STEPS), top_steps * math.sqrt(size / top))))
    per_epoch = math.ceil(size / bs)
    if size < top:  # the largest size trains as configured, even in epochs of fewer than 10 batches
        per_epoch = max(per_epoch, math.ceil(steps / config.epochs), min(MIN_STEPS_PER_EPOCH, steps))
    # a subset too small for `per_epoch` batches is repeated within the epoch
    repeats = 1 if math.ceil(size / bs) >= per_epoch else math.ceil(per_epoch * bs / size)
    batches = math.ceil(size * repeats / bs)
    epochs = max(1, round(steps / batches))
    # The config's own early stopping, no more: under the one-cycle schedule the validation loss
    # often stalls mid-run and drops while the rate anneals; an extra patience of a quarter of
    # the epochs stopped the largest point at epoch 13 of 16 with more error than the point below.
    patience = config.patience
    cost = epochs * batches * min(bs, size * repeats) + epochs * n_val * EVAL_COST
    return PointPlan(size, seed, repeats, epochs, epochs * batches, patience, float(cost))


@dataclass(frozen=True)
class CurvePlan:
    """What a measurement will do, known before it starts (the page shows it, errors surface early)."""

    config: TrainConfig
    split: DataSplit
    sizes: list[int]
    seeds: int
    points: list[PointPlan]

    @property
    def n_train(self) -> int:
        return len(self.split.train)

    @property
    def n_val(self) -> int:
        return len(self.split.val)

    def describe(self) -> str:
        return (
            f"{len(self.points)} trainings of {self.config.summary()} on {len(self.sizes)} sizes "
            f"({', '.join(f'{s:,}' for s in self.sizes)}), each checked on the same "
            f"{self.n_val:,} validation images"
        )


def plan_curve(
    config: TrainConfig, data: str = "auto", sizes: Sequence[int] | None = None, seeds: int = 2
) -> CurvePlan:
    """Load the split and check the request; raises CurveError (or DataError) before any training.

    `max_train_samples` is ignored: the curve chooses the training sizes itself. The largest
    size, and any size of at least half of it, is measured once (such subsets overlap so much
    that another seed mostly re-measures training noise); smaller ones `seeds` times.
    """
    from mnist_core.data.preprocess import make_split

    if config.model == "baseline":
        raise CurveError(
            "The majority-class baseline does not learn from more images: measure a "
            "real model (logistic regression, MLP or CNN)."
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 10:
        raise CurveError(f"seeds must be a whole number from 1 to 10, got {seeds!r}.")
    config = config.replace(max_train_samples=0)
    split = make_split(data, config)
    n_max = len(split.train)
    if n_max < MIN_SIZES * MIN_SIZE:
        raise CurveError(
            f"The training split has only {n_max} images: a learning curve needs at "
            f"least {MIN_SIZES * MIN_SIZE}."
        )
    chosen = default_sizes(n_max) if sizes is None else check_sizes(sizes, n_max)
    top = chosen[-1]
    points = [
        point_schedule(config, size, top, len(split.val), seed)
        for size in chosen
        for seed in range(seeds if size * 2 < top else 1)
    ]
    return CurvePlan(config, split, chosen, seeds, points)
