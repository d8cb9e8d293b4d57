"""Judging a trained model: loss, accuracy, confusion matrix, per-class metrics, the mistakes.

Predictions come from `inference.predict_proba` (float32, large batches, on the model's device).
What the numbers mean (baselines, the verdict against a target) is `judge`'s business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.data.sources import Images
from mnist_core.evaluation.inference import predict_proba


@dataclass
class ClassMetrics:
    digit: int
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Mistake:
    index: int  # position in the evaluated set
    true: int
    predicted: int
    confidence: float  # probability of the predicted (wrong) digit
    probabilities: list[float]


@dataclass
class EvalResult:
    """Everything the Evaluate page, the CLI and the report show about one model on one set."""

    split: str
    n: int
    loss: float
    accuracy: float
    confusion: list[list[int]]  # rows = true digit, columns = predicted digit
    per_class: list[ClassMetrics]
    mistakes: list[Mistake] = field(default_factory=list)  # most confident first

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EvalResult:
        return cls(
            d["split"],
            d["n"],
            d["loss"],
            d["accuracy"],
            d["confusion"],
            [ClassMetrics(**c) for c in d["per_class"]],
            [Mistake(**m) for m in d.get("mistakes", [])],
        )

    def weakest(self, k: int = 3) -> list[ClassMetrics]:
        """The k digits with the lowest F1."""
        return sorted(self.per_class, key=lambda c: c.f1)[:k]

    def normalized_confusion(self) -> np.ndarray:
        """Rows divided by their totals: the share of each true digit predicted as each digit."""
        cm = np.asarray(self.confusion, dtype=np.float64)
        return cm / np.maximum(cm.sum(1, keepdims=True), 1)


def confusion_matrix(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.bincount(true * 10 + pred, minlength=100).reshape(10, 10)


def per_class_metrics(cm: np.ndarray) -> list[ClassMetrics]:
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(10), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(10), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(10), where=denom > 0)
    return [
        ClassMetrics(d, float(precision[d]), float(recall[d]), float(f1[d]), int(actual[d]))
        for d in range(10)
    ]


def evaluate(model: nn.Module, data: Images, split: str = "val", max_mistakes: int = 200) -> EvalResult:
    """Full evaluation of `model` on `data`, keeping up to `max_mistakes` most confident errors."""
    probs = predict_proba(model, data.images)
    labels = data.labels
    n = len(labels)
    loss = F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels).item() if n else float("nan")
    pred = probs.argmax(1)
    true_np, pred_np = labels.numpy(), pred.numpy()
    cm = confusion_matrix(true_np, pred_np)
    wrong = np.nonzero(true_np != pred_np)[0]
    conf = probs.max(1).values.numpy()
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:max_mistakes]
    mistakes = [
        Mistake(
            int(i), int(true_np[i]), int(pred_np[i]), float(conf[i]), [round(float(p), 5) for p in probs[i]]
        )
        for i in wrong
    ]
    return EvalResult(
        split,
        n,
        loss,
        float((true_np == pred_np).mean()) if n else 0.0,
        cm.tolist(),
        per_class_metrics(cm),
        mistakes,
    )
