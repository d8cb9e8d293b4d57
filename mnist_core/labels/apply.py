"""Training on reviewed labels: the stored decisions applied to the training part of a split only.

A decision names an image by its position in the source's training pool, so it is applied through
the split's `train_index` (which pool image each training image is). Decisions on validation images
are counted, never applied: the validation set judges the model and a silent change there would
move the yardstick. The test set is not part of a split at all. A decision whose recorded label no
longer matches the pool's (the folder behind the source changed) is stale and left out, counted.
Decisions on collected drawings apply to the drawings appended to the training part, named by
their ids in the drawings database (`drawing_ids`, in the order they were appended).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from mnist_core.data.preprocess import DataSplit, split_indices
from mnist_core.data.sources import Images
from mnist_core.labels.audit import AuditError
from mnist_core.labels.store import Decision, DecisionStore


@dataclass(frozen=True)
class ReviewSummary:
    """What applying the decisions changed, as a run's meta records it."""

    relabelled: int  # training images whose label was replaced
    excluded: int  # training images left out
    decisions_on_validation: int  # relabel/exclude decisions on validation images: shown, not applied
    stale: int = 0  # decisions whose recorded label differs from the pool's: not applied
    drawings_relabelled: int = 0  # of `relabelled`, collected drawings
    drawings_excluded: int = 0  # of `excluded`, collected drawings

    def to_meta(self) -> dict[str, int | str]:
        return {
            "labels": "reviewed",
            "relabelled": self.relabelled,
            "excluded": self.excluded,
            "decisions_on_validation": self.decisions_on_validation,
            "decisions_stale": self.stale,
            "drawings_relabelled": self.drawings_relabelled,
            "drawings_excluded": self.drawings_excluded,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ReviewSummary:
        return cls(
            int(meta.get("relabelled", 0)),
            int(meta.get("excluded", 0)),
            int(meta.get("decisions_on_validation", 0)),
            int(meta.get("decisions_stale", 0)),
            int(meta.get("drawings_relabelled", 0)),
            int(meta.get("drawings_excluded", 0)),
        )

    def sentence(self) -> str:
        text = (
            f"reviewed labels: {self.relabelled} training labels changed, {self.excluded} training "
            f"images excluded"
        )
        if self.drawings_relabelled or self.drawings_excluded:
            text += (
                f" (of them collected drawings: {self.drawings_relabelled} relabelled, "
                f"{self.drawings_excluded} excluded)"
            )
        if self.decisions_on_validation:
            text += (
                f"; {self.decisions_on_validation} decisions fall on validation images and were not "
                "applied (the validation set is never changed)"
            )
        if self.stale:
            text += f"; {self.stale} decisions no longer match the data and were skipped"
        return text


def stored_decisions(data: str, home: Path | None = None) -> dict[tuple[str, int], Decision]:
    """The review decisions for data source `data`; one line when there are none to train on."""
    decisions = DecisionStore(home).decisions(data)
    if not decisions:
        raise AuditError(
            f"no review decisions for {data!r} yet: review the suspects on the Labels page "
            "(or `labels apply`) before training on reviewed labels"
        )
    return decisions


def apply_decisions(
    split: DataSplit, decisions: Mapping[tuple[str, int], Decision], drawing_ids: Sequence[int] = ()
) -> tuple[DataSplit, ReviewSummary]:
    """`split` with its training labels reviewed; its validation set untouched, only counted.
    `drawing_ids`: the ids of the collected drawings appended to the training part, in order."""
    if split.train_index is None or split.val_index is None:
        raise AuditError("this split does not know its pool positions, so reviewed labels cannot be applied")
    changes = {
        index: d for (source, index), d in decisions.items() if source == "training" and d.action != "keep"
    }
    on_drawings = {
        index: d for (source, index), d in decisions.items() if source == "drawings" and d.action != "keep"
    }
    n_pool = len(split.train_index)  # pool positions of the pool part; appended drawings come after
    labels = split.train.labels.clone()
    keep = torch.ones(len(labels), dtype=torch.bool)
    relabelled = excluded = stale = drawings_relabelled = drawings_excluded = 0
    targets = [(pos, changes.get(index), False) for pos, index in enumerate(split.train_index.tolist())]
    extra = len(labels) - n_pool
    targets += [(n_pool + k, on_drawings.get(did), True) for k, did in enumerate(list(drawing_ids)[:extra])]
    for pos, d, drawing in targets:
        if d is None:
            continue
        if int(labels[pos]) != d.given:
            stale += 1
        elif d.action == "exclude":
            keep[pos] = False
            excluded += 1
            drawings_excluded += drawing
        elif d.label is not None and d.label != d.given:
            labels[pos] = d.label
            relabelled += 1
            drawings_relabelled += drawing
    on_val = 0
    val_labels = split.val.labels.tolist()
    for pos, index in enumerate(split.val_index.tolist()):
        d = changes.get(index)
        if d is not None:
            if val_labels[pos] == d.given:
                on_val += 1
            else:
                stale += 1
    kept = torch.nonzero(keep).flatten()
    train = Images(split.train.images[kept], labels[kept])
    train_index = split.train_index[kept[kept < n_pool]]
    if len(train) == 0:
        raise AuditError("the reviewed labels exclude every training image: nothing is left to train on")
    reviewed = replace(split, train=train, train_index=train_index)
    return reviewed, ReviewSummary(
        relabelled, excluded, on_val, stale, drawings_relabelled, drawings_excluded
    )


def review_split(
    decisions: Mapping[tuple[str, int], Decision], split: DataSplit, drawing_ids: Sequence[int] = ()
) -> tuple[DataSplit, dict[str, Any]]:
    """The training pipeline's hook (bound with functools.partial): the reviewed split and what
    the run's meta records about it. Plain arguments, so a job runner can ship it to a worker."""
    reviewed, summary = apply_decisions(split, decisions, drawing_ids)
    return reviewed, summary.to_meta()


def on_validation(
    decisions: Mapping[tuple[str, int], Decision], n_pool: int, val_fraction: float, split_seed: int
) -> int:
    """How many relabel/exclude decisions fall on images this split puts in validation."""
    val = set(split_indices(n_pool, val_fraction, split_seed)[1].tolist())
    return sum(
        1
        for (source, index), d in decisions.items()
        if source == "training" and d.action != "keep" and index in val
    )
