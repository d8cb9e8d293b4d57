"""The label audit: out-of-sample probabilities by K-fold cross-validation, then cleanlab's ranking.

A label is *suspect* when a model that never saw the image disagrees with it confidently. Each
fold trains a fresh model on the other K-1 folds (a tenth of them held back for its validation,
so its best epoch is not chosen on the images it scores), then predicts the held-out fold: every
image gets probabilities from a model that did not learn its label. cleanlab (`find_label_issues`,
ranked by self-confidence) turns those into the suspects, most suspect first.

The model can be the one that is wrong: a suspect is a question for a person, not a verdict.
Folds are independent trainings (`train_fold`), so a job runner may run them in parallel; with
the same seed the result is the same either way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mnist_core.config import PRESETS, TrainConfig, quick_config

DEFAULT_FOLDS = 5
MAX_FOLDS = 20
VAL_SHARE = 0.1  # of each fold's training part, for choosing its best epoch
SOURCES = ("training", "drawings")


class AuditError(ValueError):
    """An audit that cannot run or be found, in one line."""


@dataclass(frozen=True)
class Suspect:
    """One image whose label the out-of-sample model doubts."""

    index: int  # training images: 0-based position in the source's training pool; drawings: its id
    given: int
    suggested: int
    score: float  # cleanlab's label quality: 0 = surely wrong .. 1 = surely right
    source: str  # "training" or "drawings"
    probabilities: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Audit:
    """An audit's result, as saved in the studio home and printed by the CLI."""

    id: str
    data: str  # the data source's key
    source_name: str
    preset: str
    folds: int
    n_images: int
    suspects: list[Suspect]
    seconds: float
    created: str
    n_drawings: int = 0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def n_flagged(self) -> int:
        return len(self.suspects)

    def to_json(self) -> dict[str, Any]:
        return {
            "audit": self.id,
            "data": self.data,
            "source_name": self.source_name,
            "preset": self.preset,
            "folds": self.folds,
            "n_images": self.n_images,
            "n_drawings": self.n_drawings,
            "n_flagged": self.n_flagged,
            "suspects": [s.to_json() for s in self.suspects],
            "seconds": self.seconds,
            "created": self.created,
            "config": self.config,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Audit:
        try:
            suspects = [Suspect(**s) for s in obj["suspects"]]
            return cls(
                id=str(obj["audit"]),
                data=str(obj["data"]),
                source_name=str(obj.get("source_name", obj["data"])),
                preset=str(obj.get("preset", "")),
                folds=int(obj["folds"]),
                n_images=int(obj["n_images"]),
                suspects=suspects,
                seconds=float(obj.get("seconds", 0.0)),
                created=str(obj.get("created", "")),
                n_drawings=int(obj.get("n_drawings", 0)),
                config=dict(obj.get("config", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(f"the saved audit is damaged ({type(exc).__name__}: {exc})") from None


QUICK_NAME = "quick CNN"  # how an audit with no preset names its model


def audit_config(config: TrainConfig | None = None) -> TrainConfig:
    """The model each fold trains: the quick CNN by default, on every image of its folds."""
    return (config or quick_config()).replace(max_train_samples=0)


def audit_preset(preset: str = "") -> tuple[str, TrainConfig]:
    """A preset's name as the audit records it and the config its folds train ("": the quick CNN)."""
    return preset or QUICK_NAME, audit_config(PRESETS[preset] if preset else None)


def fold_indices(n: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """A seeded shuffle of 0..n-1 cut into `folds` parts of near-equal size."""
    if not 2 <= folds <= MAX_FOLDS:
        raise AuditError(f"folds must be between 2 and {MAX_FOLDS}, got {folds}")
    if n < folds * 2:
        raise AuditError(f"{n} images are too few for {folds} folds")
    order = np.random.default_rng(seed).permutation(n)
    return [part for part in np.array_split(order, folds)]


def fold_steps(
    images: Any,
    labels: Any,
    held_out: np.ndarray,
    config: TrainConfig,
    stop: threading.Event | None = None,
) -> Generator[tuple[int, int], None, np.ndarray | None]:
    """Train on every image but `held_out`, yielding (epoch, epochs) after each epoch; returns the
    held-out probabilities (len(held_out), 10), or None if stopped."""
    import torch

    from mnist_core.data.preprocess import DataSplit
    from mnist_core.data.sources import Images, SourceInfo
    from mnist_core.evaluation.inference import predict_proba
    from mnist_core.training.train import Trainer

    n = len(labels)
    mask = np.ones(n, dtype=bool)
    mask[held_out] = False
    rest = np.flatnonzero(mask)
    rng = np.random.default_rng(config.seed + 7919)  # its own stream: the fold order stays untouched
    rest = rng.permutation(rest)
    n_val = max(1, int(round(len(rest) * VAL_SHARE)))
    train_idx, val_idx = torch.from_numpy(rest[n_val:]), torch.from_numpy(rest[:n_val])
    split = DataSplit(
        train=Images(images[train_idx], labels[train_idx]),
        val=Images(images[val_idx], labels[val_idx]),
        source=SourceInfo("audit", "audit", "audit fold"),
    )
    trainer = Trainer(config, split)
    stop = stop or threading.Event()
    for rec in trainer.run(stop, report_every=10_000):  # epoch records only
        if getattr(rec, "kind", "") == "epoch":
            yield rec.epoch, rec.epochs
        if getattr(rec, "kind", "") == "end" and getattr(rec, "status", "") == "stopped":
            return None
    if stop.is_set():
        return None
    with torch.inference_mode():
        probs = predict_proba(trainer.model, images[torch.from_numpy(held_out)])
    return probs.numpy().astype(np.float64)


def train_fold(
    images: Any,
    labels: Any,
    held_out: np.ndarray,
    config: TrainConfig,
    stop: threading.Event | None = None,
) -> np.ndarray | None:
    """Probabilities (len(held_out), 10) from a model trained on every other image; None if stopped."""
    steps = fold_steps(images, labels, held_out, config, stop)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def rank_suspects(labels: np.ndarray, probs: np.ndarray) -> list[tuple[int, int, float]]:
    """(position, suggested label, quality score) for each suspect, most suspect first (cleanlab)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # cleanlab insists rows sum to 1 exactly
    present = np.unique(labels)
    if len(present) < 2:
        raise AuditError("an audit needs images of at least two digits")
    # prune_by_class: on the bench's planted noise (5 % of the sample's labels flipped, two noise
    # seeds) its top k held 185 and 200 of the 214 flips, against 168 and 188 for cleanlab's
    # default prune_by_noise_rate, at higher precision too (same probabilities; README, bench).
    ranked = find_label_issues(
        labels, probs, return_indices_ranked_by="self_confidence", filter_by="prune_by_class"
    )
    scores = get_label_quality_scores(labels, probs, method="self_confidence")
    return [(int(i), int(np.argmax(probs[i])), float(scores[i])) for i in ranked]


def run_audit(
    images: Any,
    labels: Any,
    *,
    origins: Sequence[tuple[str, int]],
    data: str,
    source_name: str,
    preset: str,
    config: TrainConfig,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Audit `labels` of `images` (uint8 tensors); `origins[i]` = (source, index) of image i.

    Yields progress records {"kind": "progress", "fold", "folds", "images_done", "progress", "text"},
    then {"kind": "audit", "audit": Audit} — or {"kind": "stopped"} when `stop` is set.
    """
    stop = stop or threading.Event()
    start = time.perf_counter()
    n = len(labels)
    parts = fold_indices(n, folds, seed)
    probs = np.zeros((n, 10), dtype=np.float64)
    done = 0
    for k, held_out in enumerate(parts, start=1):
        yield _progress(k, folds, done, n, f"fold {k} of {folds}: training on {n - len(held_out):,} images")
        steps = fold_steps(images, labels, held_out, config, stop)
        while True:
            try:
                epoch, epochs = next(steps)
            except StopIteration as finished:
                fold_probs = finished.value
                break
            text = f"fold {k} of {folds}: epoch {epoch} of {epochs}; {done:,} of {n:,} images scored"
            yield _progress(k, folds, done, n, text, (k - 1 + epoch / max(epochs, 1)) / folds)
        if fold_probs is None:
            yield {"kind": "stopped", "text": f"audit stopped during fold {k} of {folds}; nothing saved"}
            return
        probs[held_out] = fold_probs
        done += len(held_out)
        yield _progress(k, folds, done, n, f"fold {k} of {folds} done: {done:,} of {n:,} images scored")
    audit = build_audit(
        labels,
        probs,
        origins=origins,
        data=data,
        source_name=source_name,
        preset=preset,
        config=config,
        folds=folds,
        seconds=time.perf_counter() - start,
    )
    yield {"kind": "audit", "audit": audit, "progress": 1.0, "text": f"{audit.n_flagged} suspects found"}


def build_audit(
    labels: Any,
    probs: np.ndarray,
    *,
    origins: Sequence[tuple[str, int]],
    data: str,
    source_name: str,
    preset: str,
    config: TrainConfig,
    folds: int,
    seconds: float,
) -> Audit:
    """The audit from every image's out-of-sample probabilities (however the folds were run)."""
    n = len(labels)
    given = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    suspects = [
        Suspect(
            index=int(origins[i][1]),
            given=int(given[i]),
            suggested=suggested,
            score=round(score, 6),
            source=origins[i][0],
            probabilities=[round(float(p), 6) for p in probs[i]],
        )
        for i, suggested, score in rank_suspects(given, probs)
    ]
    audit = Audit(
        id=datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        data=data,
        source_name=source_name,
        preset=preset,
        folds=folds,
        n_images=n,
        suspects=suspects,
        seconds=round(seconds, 2),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        n_drawings=sum(1 for o in origins if o[0] == "drawings"),
        config=config.to_dict() if hasattr(config, "to_dict") else {},
    )
    return audit


def _progress(
    fold: int, folds: int, done: int, n: int, text: str, share: float | None = None
) -> dict[str, Any]:
    return {
        "kind": "progress",
        "fold": fold,
        "folds": folds,
        "images_done": done,
        "progress": done / max(n, 1) if share is None else share,
        "text": text,
    }
