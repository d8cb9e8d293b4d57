"""The labelling queue: drawings saved to "label later", the ones the current model is least
sure about first, since a label teaches most where the model hesitates.

Uncertainty is the margin between the model's top two probabilities (1 − margin: 1 for a tie,
0 for a sure answer), the measure the Plan page's uncertainty sampling labels by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.deploy.collect import Drawing, DrawingStore
from mnist_core.evaluation.inference import predict_proba


@dataclass(frozen=True)
class Queued:
    """An unlabelled drawing, what the current model says it is, and how unsure it is."""

    drawing: Drawing
    guess: int
    uncertainty: float  # 1 − (top probability − second)


def labelling_queue(store: DrawingStore, model: nn.Module) -> list[Queued]:
    """Every unlabelled drawing, most uncertain first (ties: the older first)."""
    drawings = store.unlabelled()
    if not drawings:
        return []
    images = torch.from_numpy(np.stack([d.image28 for d in drawings]))
    probs = predict_proba(model, images).numpy()
    top2 = np.sort(probs, axis=1)[:, -2:]
    uncertainty = 1.0 - (top2[:, 1] - top2[:, 0])
    order = np.argsort(-uncertainty, kind="stable")
    return [Queued(drawings[i], int(probs[i].argmax()), float(uncertainty[i])) for i in order]
