"""The images behind an evaluation: which ones to show, where they come from, and their pixels.

Two questions a learner asks of a confusion matrix are answered here without any UI:
"show me the images in this cell" (`cell_examples`) and "show me the worst mistakes"
(`confident_mistakes`). Both work on a prediction table (probabilities + true labels), so
the page can compute predictions once, cache them, and slice them instantly.

The images are the run's own: `run_validation_set` rebuilds its validation split (same
source, fraction and seed give the same images) and `run_test_set` reads the test set of
the run's source, not of whatever source is active now — a model trained on full MNIST
would otherwise be "tested" on sample images it may have trained on. A source that is
gone raises `DataError` with a message for the user instead of silently downloading.

Thumbnails are enlarged with nearest-neighbour repetition: a browser stretching a 28×28
image blurs it into grey mush, while whole-pixel blocks keep the strokes crisp on a projector.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from .data import DataError, Images, load_test, mnist_available, resolve_source
from .evaluate import EvalResult, confusion_matrix, predict_proba
from .preprocess import make_split
from .storage import Run


@dataclass(frozen=True)
class PredictionTable:
    """A set of images with the true labels and the model's probabilities, as numpy arrays."""

    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray  # int64 (N,)
    probs: np.ndarray   # float32 (N, 10)


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


def run_source_key(run: Run) -> str:
    """The data source the run was trained on, if it can be read here without a download."""
    key = run.meta.get("data")
    if not key:
        raise DataError("This run does not record which data it was trained on, so its images "
                        "cannot be shown. Train it again.")
    if key == "mnist" and not mnist_available():
        raise DataError("This run was trained on full MNIST, which is not downloaded on this "
                        "machine now. Download it on the Data page to see its images; the saved "
                        "metrics below are still valid.")
    return resolve_source(key).key  # a folder that has gone away raises DataError here


def run_validation_set(run: Run) -> tuple[Images, list[int]]:
    """The run's validation images (rebuilt exactly) and images per digit of its training split."""
    split = make_split(run_source_key(run), run.config)
    expected = run.meta.get("sizes", {}).get("val")
    if isinstance(expected, int) and expected != len(split.val):
        raise DataError(f"The validation set rebuilt from {run.meta.get('data_name', run.meta['data'])} "
                        f"has {len(split.val):,} images, but the run was validated on {expected:,}: "
                        "the data changed since training. The saved metrics below are still valid.")
    counts = torch.bincount(split.train.labels, minlength=10).tolist()
    return split.val, [int(c) for c in counts]


def run_test_set(run: Run) -> Images:
    """The held-out test set of the run's own data source."""
    return load_test(run_source_key(run))


@dataclass(frozen=True)
class Example:
    """One image of an evaluated set, with what the model said about it."""

    index: int          # position in the evaluated set
    true: int
    predicted: int
    confidence: float   # probability the model gave its predicted digit
    true_prob: float    # probability the model gave the right digit

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
    return [Example(int(i), int(labels[i]), int(p), float(probs[i, p]), float(probs[i, labels[i]]))
            for i, p in zip(index, pred)]


def cell_examples(probs: np.ndarray, labels: np.ndarray, true: int, predicted: int,
                  limit: int = 24) -> tuple[list[Example], int]:
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


def enlarge(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """A 28×28 uint8 image as (28·scale)² whole-pixel blocks."""
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim != 2:
        raise ValueError(f"expected one 2-D image, got shape {img.shape}")
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def grid(images: np.ndarray, cols: int = 8, scale: int = 2, pad: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W) into one image, `cols` per row, with grey gutters."""
    imgs = np.asarray(images, dtype=np.uint8)
    if imgs.ndim != 3 or len(imgs) == 0:
        raise ValueError(f"expected a non-empty stack of 2-D images, got shape {imgs.shape}")
    n, h, w = imgs.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    cell_h, cell_w = h * scale + pad, w * scale + pad
    out = np.full((rows * cell_h + pad, cols * cell_w + pad), 96, dtype=np.uint8)
    for k, img in enumerate(imgs):
        r, c = divmod(k, cols)
        y, x = pad + r * cell_h, pad + c * cell_w
        out[y:y + h * scale, x:x + w * scale] = enlarge(img, scale)
    return out


def to_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 greyscale image."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_data_uri(image: np.ndarray) -> str:
    """A `data:` URI, so an HTML page can show the image with no file and no network."""
    return "data:image/png;base64," + base64.b64encode(to_png(image)).decode("ascii")
