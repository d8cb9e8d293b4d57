"""The bars any model must clear, from label counts alone: random guessing and the most common digit."""

from __future__ import annotations

import math
from dataclasses import dataclass

CHANCE_ACCURACY = 0.1
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 digits


@dataclass(frozen=True)
class Baselines:
    """What a model that learned nothing scores: random guessing and the most common digit."""

    chance: float
    majority_digit: int
    majority_accuracy: float
    chance_loss: float = CHANCE_LOSS


def baselines(eval_counts: list[int], train_counts: list[int] | None = None) -> Baselines:
    """Chance and majority-class accuracy on a set with `eval_counts` images per digit.

    The majority class is the training set's most common digit when its counts are known
    (that is what a majority-class model learns), else the evaluated set's own.
    """
    source = train_counts if train_counts and sum(train_counts) else eval_counts
    digit = max(range(10), key=lambda d: source[d])
    n = sum(eval_counts)
    return Baselines(CHANCE_ACCURACY, digit, eval_counts[digit] / n if n else 0.0)
