"""Is the field like the training data? One `MonitorReport` from a run and a field sample.

`reference_set` draws the run's validation images (`reference_digits`) on a virtual canvas and
prepares them like drawings (`canvas_render`, `reference_from_digits`); `monitor` puts the field
and the reference through the run's model, tests the two samples on the model's penultimate
features (`mmd`), says what differs (`compare`) and repeats the test per window of time
(`windows`). The report is plain data with a `to_json()` that the CLI prints and a page can draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from mnist_core.evaluation.embedding import EmbeddingError, FeatureSet, features
from mnist_core.monitoring.canvas_render import prepare_all_as_drawn
from mnist_core.monitoring.compare import (
    ClassMix,
    ConfidenceComparison,
    Outlier,
    TraitComparison,
    compare_classes,
    compare_confidence,
    compare_traits,
    outliers,
)
from mnist_core.monitoring.errors import MonitorError
from mnist_core.monitoring.features import prepared_traits
from mnist_core.monitoring.field import FieldSet
from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS, MmdResult, mmd_test
from mnist_core.monitoring.windows import DEFAULT_WINDOW, WindowResult, split_windows, window_results
from mnist_core.runs.files import json_safe
from mnist_core.runs.storage import Run

ALPHA = 0.05
MAX_REFERENCE = 1000  # validation images drawn on the canvas; full MNIST's 12,000 would take ~40 s
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReferenceSet:
    """The run's validation images as if drawn on the canvas: model inputs, labels and traits."""

    images: np.ndarray  # (M, 28, 28) uint8
    labels: np.ndarray  # (M,) int64
    traits: np.ndarray  # (M, T) float64


def reference_set(run: Run, *, limit: int = MAX_REFERENCE, seed: int = 0) -> ReferenceSet:
    """At most `limit` of the run's own validation images (a seeded random choice), drawn and prepared.

    Raises DataError when the run's data cannot be read here or changed since training.
    """
    return reference_from_digits(*reference_digits(run, limit=limit, seed=seed))


def reference_digits(run: Run, *, limit: int = MAX_REFERENCE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The validation digits (M, 28, 28) uint8 and labels that `reference_set` draws: at most
    `limit` of the run's own, a seeded random choice. DataError as for `reference_set`."""
    val = run.split().val
    digits, labels = val.images.numpy(), val.labels.numpy()
    if len(labels) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(labels), limit, replace=False))
        digits, labels = digits[pick], labels[pick]
    return digits, labels


def reference_from_digits(digits: np.ndarray, labels: np.ndarray) -> ReferenceSet:
    """MNIST-style uint8 digits (M, 28, 28) drawn on the canvas and prepared; blank results are dropped."""
    prepared = prepare_all_as_drawn(digits)
    keep = [i for i, p in enumerate(prepared) if not p.is_blank]
    return ReferenceSet(
        np.stack([prepared[i].stages["centered"] for i in keep]),
        np.asarray(labels)[keep].astype(np.int64),
        np.array([prepared_traits(prepared[i]) for i in keep], dtype=np.float64),
    )


@dataclass(frozen=True)
class MonitorReport:
    """Everything the monitor found; `to_json()` is the CLI's output and the page's data."""

    run: str
    field_source: str
    n_field: int
    n_reference: int
    alpha: float
    test: MmdResult
    field_accuracy: float | None  # the run's model on the labelled field images
    n_labelled: int
    reference_accuracy: float
    traits: dict[str, TraitComparison]
    class_mix: ClassMix
    confidence: ConfidenceComparison
    outliers: list[Outlier]
    windows: list[WindowResult]
    skipped: list[str] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return self.test.p_value < self.alpha

    @property
    def drift_since(self) -> str | None:
        """The first window that raised the alarm, when any did."""
        return next((w.label for w in self.windows if w.alarm), None)

    def summary(self) -> list[str]:
        """The findings as sentences, the verdict first."""
        verdict = (
            f"The field differs from the training data (MMD test p = {self.test.p_value:.2g} < {self.alpha:g})."
            if self.drift
            else f"No sign that the field differs from the training data (MMD test p = {self.test.p_value:.2g})."
        )
        lines = [verdict]
        lines += [t.sentence for t in self.traits.values() if t.differs]
        lines += [self.class_mix.sentence, self.confidence.sentence]
        if self.drift_since:
            lines.append(f"the alarm went off first in window {self.drift_since}")
        return [line[0].upper() + line[1:] for line in lines]

    def to_json(self) -> dict:
        """Strict JSON data (NaN and infinities as None), the contract's keys first."""
        return json_safe(
            {
                "drift": self.drift,
                "p_value": self.test.p_value,
                "n_field": self.n_field,
                "n_reference": self.n_reference,
                "field_accuracy": self.field_accuracy,
                "features": {k: t.to_json() for k, t in self.traits.items()},
                "class_mix": self.class_mix.to_json(),
                "windows": [w.to_json() for w in self.windows],
                "run": self.run,
                "field": self.field_source,
                "alpha": self.alpha,
                "test": self.test.to_json(),
                "n_labelled": self.n_labelled,
                "reference_accuracy": self.reference_accuracy,
                "confidence": self.confidence.to_json(),
                "outliers": [o.to_json() for o in self.outliers],
                "drift_since": self.drift_since,
                "skipped": self.skipped,
                "summary": self.summary(),
            }
        )


def _model_view(model: torch.nn.Module, images: np.ndarray) -> FeatureSet:
    try:
        return features(model, torch.from_numpy(images))
    except EmbeddingError as exc:
        raise MonitorError(f"The monitor compares the model's own features, and {exc}") from exc


def monitor(
    run: Run,
    field_set: FieldSet,
    *,
    reference: ReferenceSet | None = None,
    model: torch.nn.Module | None = None,
    window: int | str | None = DEFAULT_WINDOW,
    permutations: int = DEFAULT_PERMUTATIONS,
    alpha: float = ALPHA,
    seed: int = 0,
    progress: Progress | None = None,
) -> MonitorReport:
    """Compare `field_set` with the run's validation images drawn on the canvas (or `reference`).

    `window` (a number of images, "day", or None for no windows) cuts the field over time.
    """
    say = progress or (lambda _text: None)
    if len(field_set) < 2:
        raise MonitorError("At least two field images are needed to compare with the training data.")
    windows = split_windows(len(field_set), window, field_set.dates) if window is not None else []
    if reference is None:
        say("drawing the validation images on a virtual canvas")
        reference = reference_set(run, seed=seed)
    model = model if model is not None else run.load_model("cpu")
    say(f"features of {len(field_set)} field and {len(reference.labels)} reference images")
    field_view = _model_view(model, field_set.images)
    ref_view = _model_view(model, reference.images)
    say(f"two-sample test ({permutations} permutations)")
    test = mmd_test(field_view.features, ref_view.features, permutations=permutations, seed=seed)
    labelled = field_set.labelled
    right = field_view.predicted[labelled] == field_set.labels[labelled]
    if field_set.labelled.any():
        mix = compare_classes(field_set.labels[labelled], reference.labels, "labels")
    else:
        mix = compare_classes(field_view.predicted, ref_view.predicted, "predictions")
    results = window_results(
        windows,
        field_view.features,
        ref_view.features,
        field_view.probs,
        field_set.labels,
        alpha=alpha,
        permutations=permutations,
        seed=seed + 1,
        progress=say,
    )
    return MonitorReport(
        run=run.id,
        field_source=field_set.source,
        n_field=len(field_set),
        n_reference=len(reference.labels),
        alpha=alpha,
        test=test,
        field_accuracy=float(right.mean()) if right.size else None,
        n_labelled=int(labelled.sum()),
        reference_accuracy=float((ref_view.predicted == reference.labels).mean()),
        traits=compare_traits(field_set.traits, reference.traits),
        class_mix=mix,
        confidence=compare_confidence(field_view.probs.max(1), ref_view.probs.max(1)),
        outliers=outliers(field_view.features, ref_view.features, field_set.names),
        windows=results,
        skipped=list(field_set.skipped),
    )
