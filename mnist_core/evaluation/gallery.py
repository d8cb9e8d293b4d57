"""The images behind an evaluation: which ones to show, where they come from, and their pixels.

Two questions a learner asks of a confusion matrix are answered here without any UI:
"show me the images in this cell" (`cell_examples`) and "show me the worst mistakes"
(`confident_mistakes`). Both work on a prediction table (probabilities + true labels), so
the page can compute predictions once, cache them, and slice them instantly.

The images are the run's own: `run_validation_set` rebuilds its validation split through
`Run.split` (same source, fraction and seed give the same images) and the test set is
`Run.test_set`, the run's source's, not of whatever source is active now. A source that is
gone raises `DataError` with a message for the user instead of silently downloading.
Enlarging, tiling and PNG encoding are `images`' business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.data.explore import class_counts
from mnist_core.data.images import png_data_uri, tile
from mnist_core.data.sources import Images
from mnist_core.evaluation.evaluate import EvalResult, confusion_matrix
from mnist_core.evaluation.inference import predict_proba
from mnist_core.runs.storage import Run

SHEET_SCALE = 2  # report grid: 56 px per digit, whole pixels
SHEET_BACKGROUND = 96  # grey gutters between the digits


@dataclass(frozen=True)
class PredictionTable:
    """A set of images with the true labels and the model's probabilities, as numpy arrays."""

    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray  # int64 (N,)
    probs: np.ndarray  # float32 (N, 10)


def predictions(model: nn.Module, data: Images) -> PredictionTable:
    """Predict every image of `data` once, so the page can slice the result instantly."""
    probs = predict_proba(model, data.images)
    return PredictionTable(data.images.numpy(), data.labels.numpy(), probs.numpy())


def disagreements(table: PredictionTable, saved: EvalResult) -> int:
    """How many images would move between confusion cells compared with a saved evaluation.

    Zero when predictions are reproduced exactly; a GPU-trained model predicted on a CPU may
    flip a near-tie or two, and then the page says so instead of showing counts that disagree.
    """
    now = confusion_matrix(table.labels, table.probs.argmax(1))
    return int(np.abs(now - np.asarray(saved.confusion)).sum() // 2)


def table_images(table: PredictionTable) -> Images:
    """The images and labels of a table as an `Images` set again (to evaluate it)."""
    return Images(torch.from_numpy(table.images), torch.from_numpy(table.labels))


def run_validation_set(run: Run) -> tuple[Images, list[int]]:
    """The run's validation images (rebuilt exactly) and images per digit of its training split."""
    split = run.split()
    return split.val, class_counts(split.train.labels)


@dataclass(frozen=True)
class Example:
    """One image of an evaluated set, with what the model said about it."""

    index: int  # position in the evaluated set
    true: int
    predicted: int
    confidence: float  # probability the model gave its predicted digit
    true_prob: float  # probability the model gave the right digit

    @property
    def correct(self) -> bool:
        return self.true == self.predicted

    def caption(self) -> str:
        """A short label for under a thumbnail: the truth, the answer and its probability."""
        if self.correct:
            return f"{self.true} ✓ {self.confidence:.0%}"
        return f"{self.true}, said {self.predicted} ({self.confidence:.0%})"

    def probabilities(self) -> str:
        """The probabilities of the answer and of the truth, for a cell whose digits are known."""
        if self.correct:
            return f"{self.true}: {self.confidence:.0%}"
        return f"{self.predicted}: {self.confidence:.0%} · {self.true}: {self.true_prob:.0%}"


def _examples(probs: np.ndarray, labels: np.ndarray, index: np.ndarray) -> list[Example]:
    pred = probs[index].argmax(1)
    return [
        Example(int(i), int(labels[i]), int(p), float(probs[i, p]), float(probs[i, labels[i]]))
        for i, p in zip(index, pred)
    ]


def cell_examples(
    probs: np.ndarray, labels: np.ndarray, true: int, predicted: int, limit: int = 24
) -> tuple[list[Example], int]:
    """The images of one confusion-matrix cell, and how many the cell holds.

    A mistake cell lists the most confident errors first (the striking ones); a diagonal cell
    lists the least confident correct answers first, since a wall of perfect digits teaches
    nothing while the near misses show where the model hesitates.
    """
    pred = probs.argmax(1)
    idx = np.nonzero((labels == true) & (pred == predicted))[0]
    conf = probs[idx, predicted] if len(idx) else np.empty(0)
    order = np.argsort(conf if true == predicted else -conf, kind="stable")
    return _examples(probs, labels, idx[order][:limit]), int(len(idx))


def confident_mistakes(probs: np.ndarray, labels: np.ndarray, limit: int = 24) -> list[Example]:
    """The wrong predictions the model was surest of, most confident first."""
    pred = probs.argmax(1)
    wrong = np.nonzero(pred != labels)[0]
    conf = probs[wrong, pred[wrong]]
    return _examples(probs, labels, wrong[np.argsort(-conf, kind="stable")][:limit])


def examples_sheet(table: PredictionTable, examples: list[Example], cols: int = 8) -> np.ndarray:
    """The examples' images tiled into one picture, enlarged, with grey gutters."""
    return tile(
        table.images[[e.index for e in examples]], cols, scale=SHEET_SCALE, background=SHEET_BACKGROUND
    )


def report_mistakes(table: PredictionTable, limit: int = 16) -> tuple[str | None, str]:
    """The report's picture of the most confident mistakes (a PNG `data:` URI, None when there
    are none) and its caption, in reading order."""
    worst = confident_mistakes(table.probs, table.labels, limit)
    if not worst:
        return None, ""
    caption = "In reading order: " + "; ".join(f"{e.true}→{e.predicted} ({e.confidence:.0%})" for e in worst)
    return png_data_uri(examples_sheet(table, worst)), caption
