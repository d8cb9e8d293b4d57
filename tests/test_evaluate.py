"""Evaluation metrics on hand-checkable cases."""

import numpy as np
import pytest
import torch
from torch import nn

from mnist_core.data.sources import Images
from mnist_core.evaluation.evaluate import confusion_matrix, evaluate, per_class_metrics


class Fixed(nn.Module):
    """Returns given logits row by row, to make metrics predictable."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logits", logits)

    def forward(self, x):
        return self.logits[: x.shape[0]]


def test_confusion_and_per_class():
    true = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 2, 2])
    cm = confusion_matrix(true, pred)
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 2] == 1 and cm.sum() == 6
    m = per_class_metrics(cm)
    assert m[1].precision == pytest.approx(2 / 3) and m[1].recall == pytest.approx(2 / 3)
    assert m[2].precision == pytest.approx(0.5) and m[2].recall == 1.0
    assert m[5].f1 == 0.0 and m[5].support == 0


def test_evaluate_sorts_mistakes_by_confidence():
    labels = torch.tensor([0, 1, 2, 3])
    logits = torch.full((4, 10), -10.0)
    logits[0, 0] = 5  # right
    logits[1, 7] = 5  # wrong, very confident
    logits[2, 4] = 1  # wrong, less confident
    logits[2, 2] = 0.5
    logits[3, 3] = 5  # right
    result = evaluate(Fixed(logits), Images(torch.zeros(4, 28, 28, dtype=torch.uint8), labels))
    assert result.accuracy == 0.5 and result.n == 4
    assert [m.index for m in result.mistakes] == [1, 2]
    assert result.mistakes[0].predicted == 7 and result.mistakes[0].confidence > 0.99
    assert result.confusion[1][7] == 1
    assert result.loss > 0
    assert sum(result.normalized_confusion()[1]) == pytest.approx(1.0)
    assert result.weakest(1)[0].digit in (1, 2)
