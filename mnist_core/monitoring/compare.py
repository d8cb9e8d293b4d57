"""What differs between the field and the training data, trait by trait, in numbers and in words.

- `compare_traits`: per trait (`features.TRAITS`) the field and training quartiles, the standardized
  mean difference (Cohen's d, pooled SD) and the two-sample Kolmogorov-Smirnov test; a trait
  "differs" when d is at least medium (|d| ≥ 0.5) and KS says it is not chance (p < 0.01).
- `compare_classes`: the digit mix, a chi-square test of the field's counts against the training
  shares (sampling bias); on the true labels when known, else on the model's predictions.
- `compare_confidence`: the model's top probability on field vs training images (KS test).
- `outliers`: the field images least like any training image: distance to the nearest training
  image in the model's feature space, over the typical such distance among the training images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from mnist_core.monitoring.features import TRAITS
from mnist_core.monitoring.mmd import squared_distances

MEDIUM_EFFECT = 0.5  # Cohen's rule of thumb: 0.2 small, 0.5 medium, 0.8 large
TRAIT_P = 0.01  # seven traits are tested at once: a stricter level than 0.05 keeps chance hits rare
UNUSUAL_QUANTILE = 0.99  # an image is unusual past the training images' own 99th percentile
MAX_OUTLIERS = 24


def _summary(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"n": 0, "mean": None, "q1": None, "median": None, "q3": None}
    q1, med, q3 = np.percentile(values, (25, 50, 75))
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "q1": float(q1),
        "median": float(med),
        "q3": float(q3),
    }


@dataclass(frozen=True)
class TraitComparison:
    """One trait in the field and in the training data; `sentence` says the difference in words."""

    key: str
    label: str
    unit: str
    field: dict  # n, mean, q1, median, q3
    training: dict
    smd: float | None  # (field mean - training mean) / pooled SD
    ks: float | None  # largest gap between the two cumulative distributions, 0..1
    ks_p: float | None
    differs: bool
    sentence: str

    def to_json(self) -> dict:
        return asdict(self)


def _smd(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or b.size < 2:
        return None
    pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    if pooled == 0:
        return 0.0 if a.mean() == b.mean() else math.copysign(math.inf, a.mean() - b.mean())
    return float((a.mean() - b.mean()) / pooled)


def compare_traits(field: np.ndarray, training: np.ndarray) -> dict[str, TraitComparison]:
    """Each trait column of `field` (N, T) against `training` (M, T); NaN entries (unknown) are left out."""
    result = {}
    for i, trait in enumerate(TRAITS):
        a, b = field[:, i], training[:, i]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        smd = _smd(a, b)
        ks = stats.ks_2samp(a, b) if a.size and b.size else None
        differs = bool(
            smd is not None and ks is not None and abs(smd) >= MEDIUM_EFFECT and ks.pvalue < TRAIT_P
        )
        if a.size == 0:
            sentence = f"{trait.label}: not known for the field images"
        elif differs:
            word = trait.more if smd > 0 else trait.less
            sentence = (
                f"{word}: {trait.label} {a.mean():.1f} in the field vs {b.mean():.1f} in training "
                f"({trait.unit}; d = {smd:+.1f})"
            )
        else:
            sentence = f"{trait.label}: like training ({a.mean():.1f} vs {b.mean():.1f} {trait.unit})"
        result[trait.key] = TraitComparison(
            trait.key,
            trait.label,
            trait.unit,
            _summary(a),
            _summary(b),
            smd,
            None if ks is None else float(ks.statistic),
            None if ks is None else float(ks.pvalue),
            differs,
            sentence,
        )
    return result


@dataclass(frozen=True)
class ClassMix:
    """The field's digit counts against the training shares; `basis` is "labels" or "predictions"."""

    basis: str
    field: list[int]  # count per digit 0..9
    training: list[float]  # share per digit 0..9
    chi2: float | None
    p_value: float | None
    sentence: str

    def to_json(self) -> dict:
        return asdict(self)


def compare_classes(field_digits: np.ndarray, training_digits: np.ndarray, basis: str) -> ClassMix:
    """Chi-square goodness of fit of the field's digit counts to the training digit shares."""
    counts = np.bincount(field_digits, minlength=10)[:10]
    shares = np.bincount(training_digits, minlength=10)[:10] / max(len(training_digits), 1)
    n = int(counts.sum())
    if n == 0:
        return ClassMix(basis, counts.tolist(), shares.tolist(), None, None, "no digits to compare")
    seen = shares > 0  # a digit training never had cannot be tested against a share of 0
    expected = shares[seen] * n
    test = stats.chisquare(counts[seen], expected * (counts[seen].sum() / expected.sum()))
    over = int(np.argmax(counts / n - shares))
    under = int(np.argmax(shares - counts / n))
    what = "digits" if basis == "labels" else "predicted digits"
    sentence = (
        f"the mix of {what} differs from training (p = {test.pvalue:.2g}): most over-represented "
        f"{over} ({counts[over] / n:.0%} vs {shares[over]:.0%}), most under-represented {under} "
        f"({counts[under] / n:.0%} vs {shares[under]:.0%})"
        if test.pvalue < 0.05
        else f"the mix of {what} is like training (p = {test.pvalue:.2g})"
    )
    return ClassMix(
        basis, counts.tolist(), shares.tolist(), float(test.statistic), float(test.pvalue), sentence
    )


@dataclass(frozen=True)
class ConfidenceComparison:
    """The model's top probability on field and training images, and a KS test between them."""

    field: dict
    training: dict
    field_unsure: float  # share below 0.5
    training_unsure: float
    ks: float
    p_value: float
    sentence: str

    def to_json(self) -> dict:
        return asdict(self)


def compare_confidence(field: np.ndarray, training: np.ndarray) -> ConfidenceComparison:
    test = stats.ks_2samp(field, training)
    lower = np.median(field) < np.median(training)
    sentence = (
        f"the model is {'less' if lower else 'more'} sure of itself in the field (median "
        f"{np.median(field):.0%} vs {np.median(training):.0%}; KS p = {test.pvalue:.2g})"
        if test.pvalue < 0.05
        else f"the model is as sure of itself as on training images (KS p = {test.pvalue:.2g})"
    )
    return ConfidenceComparison(
        _summary(field),
        _summary(training),
        float((field < 0.5).mean()),
        float((training < 0.5).mean()),
        float(test.statistic),
        float(test.pvalue),
        sentence,
    )


@dataclass(frozen=True)
class Outlier:
    """A field image far from every training image: `index` into the field set, `score` ≥ 0."""

    index: int
    name: str
    score: float  # distance to the nearest training image / the training images' median such distance
    unusual: bool  # farther than 99 % of training images are from their own nearest neighbour

    def to_json(self) -> dict:
        return asdict(self)


def outliers(
    field_feats: np.ndarray, training_feats: np.ndarray, names: list[str], limit: int = MAX_OUTLIERS
) -> list[Outlier]:
    """The `limit` field images farthest from their nearest training image, farthest first."""
    to_training = np.sqrt(squared_distances(field_feats, training_feats).min(axis=1))
    within = squared_distances(training_feats, training_feats)
    np.fill_diagonal(within, np.inf)  # an image is not its own neighbour
    own = np.sqrt(within.min(axis=1))
    typical = float(np.median(own)) or 1.0
    cutoff = float(np.quantile(own, UNUSUAL_QUANTILE))
    order = np.argsort(-to_training, kind="stable")[:limit]
    return [
        Outlier(int(i), names[i], float(to_training[i] / typical), bool(to_training[i] > cutoff))
        for i in order
    ]
