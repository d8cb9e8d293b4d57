"""What an evaluation means, in plain words: baselines, the verdict against the target, the
uncertainty of an accuracy, the weakest digits and the most frequent confusions.

The Evaluate page shows these judgements live and the HTML report (report.py) writes them
down for a stakeholder; both call the functions here, so both say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_core.data.baselines import Baselines
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.text import percent

if TYPE_CHECKING:  # type hints only: judging a result needs no run folder code
    from mnist_core.runs.storage import Run


def label_counts(result: EvalResult) -> list[int]:
    """Images per true digit in the evaluated set (the confusion matrix's row sums)."""
    return [int(sum(row)) for row in result.confusion]


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of an accuracy measured on `n` images (Wilson score; sane near 0 and 1)."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (accuracy + z * z / (2 * n)) / denom
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Verdict:
    """Pass / fail against the target and the baselines, in sentences a presenter can read out."""

    passed: bool  # met the target
    beats_baselines: bool
    uncertain: bool  # the target lies inside the accuracy's 95 % interval
    headline: str
    details: tuple[str, ...]


def verdict(result: EvalResult, target: float, base: Baselines) -> Verdict:
    """Judge `result` (validation or test) against `target` and `base`."""
    name = {"val": "validation", "test": "test"}.get(result.split, result.split)
    acc = result.accuracy
    lo, hi = wilson_interval(acc, result.n)
    passed = acc >= target
    gap = abs(acc - target) * 100
    if passed:
        headline = f"Meets the target: {percent(acc)} {name} accuracy against a target of {percent(target)}."
    else:
        headline = (
            f"Below the target: {percent(acc)} {name} accuracy, {gap:.1f} points short of {percent(target)}."
        )
    bar = max(base.chance, base.majority_accuracy)
    beats = acc > bar
    if beats:
        baseline_line = (
            f"Beats guessing at random ({percent(base.chance)}) and always answering "
            f"{base.majority_digit} ({percent(base.majority_accuracy)})."
        )
    else:
        baseline_line = (
            f"Does not beat the baselines (random {percent(base.chance)}, always "
            f"{base.majority_digit}: {percent(base.majority_accuracy)}): the model has "
            "learned nothing useful yet."
        )
    loss_line = (
        f"Loss {result.loss:.3f} (a uniform guess scores {base.chance_loss:.3f}; lower is better)."
        if math.isfinite(result.loss)
        else "Loss not available."
    )
    uncertain = lo <= target <= hi
    interval_line = (
        f"Measured on {result.n:,} images, so the true accuracy lies between "
        f"{percent(lo)} and {percent(hi)} (95 % interval)."
    )
    if uncertain:
        interval_line += " The target lies inside that range: more images are needed to be sure."
    return Verdict(passed, beats, uncertain, headline, (baseline_line, loss_line, interval_line))


def test_vs_validation(val: EvalResult, test: EvalResult) -> str:
    """One sentence comparing the test score with the validation score, and what it means."""
    gap = (test.accuracy - val.accuracy) * 100
    head = f"Test {percent(test.accuracy, 2)} vs validation {percent(val.accuracy, 2)}: "
    if abs(gap) < 0.05:
        return head + "the same. The validation score was an honest guide."
    if gap < 0:
        return (
            head + f"{-gap:.1f} points lower. A small drop is normal: the validation set "
            "helped choose the model, which makes its score slightly optimistic."
        )
    return (
        head + f"{gap:.1f} points higher. Chance in which images each set holds: the "
        "model is not better than the validation score suggested."
    )


def top_confusions(result: EvalResult, k: int = 3) -> list[tuple[int, int, int]]:
    """The k most frequent mistakes as (true digit, predicted digit, count), largest first."""
    cells = [
        (result.confusion[t][p], t, p)
        for t in range(10)
        for p in range(10)
        if t != p and result.confusion[t][p] > 0
    ]
    return [(t, p, c) for c, t, p in sorted(cells, key=lambda x: (-x[0], x[1], x[2]))[:k]]


def weakest_digits(result: EvalResult, k: int = 3) -> list[str]:
    """The k digits with the lowest F1, each with the digit it is most often mistaken for."""
    out = []
    for c in result.weakest(k):
        row = result.confusion[c.digit]
        wrong = max((p for p in range(10) if p != c.digit), key=lambda p: row[p])
        line = f"{c.digit} (F1 {percent(c.f1)}"
        line += f", most often read as {wrong}: {row[wrong]}×)" if row[wrong] else ")"
        out.append(line)
    return out


def same_validation_set(a: Run, b: Run) -> bool:
    """Whether two runs were validated on the same images (same data, fraction and seed)."""
    return (
        a.meta.get("data") == b.meta.get("data")
        and a.config.val_fraction == b.config.val_fraction
        and a.config.split_seed == b.config.split_seed
    )
