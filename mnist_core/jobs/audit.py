"""A label audit as a cluster job: its K folds are K independent tasks, run in parallel.

Each fold trains on the other folds and scores its own (labels.audit.train_fold, a pure
function of its inputs and the seed), so running them apart gives the same probabilities, and
the same audit, as the in-process `run_audit`. The app puts the folds together and ranks the
suspects (`build_audit`); saving the audit stays the caller's (it lives in the studio home).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from functools import partial
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.jobs.job import Job
from mnist_core.labels.audit import DEFAULT_FOLDS, build_audit, fold_indices, train_fold


def fold_work(
    images: Any, labels: Any, held_out: np.ndarray, config: TrainConfig, fold: int, stop: threading.Event
) -> Generator[dict[str, Any], None, np.ndarray | None]:
    """On a worker: one fold's held-out probabilities (None if stopped); says when it is done."""
    probs = train_fold(images, labels, held_out, config, stop)
    if probs is not None:
        yield {"kind": "fold_done", "fold": fold, "images": len(held_out)}
    return probs


class AuditJob(Job):
    """Audit `labels` of `images` with the folds in parallel; ends with an {"kind": "audit"} record."""

    def __init__(
        self,
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
    ) -> None:
        self.images, self.labels, self.config, self.folds, self.seed = images, labels, config, folds, seed
        self.about = {"origins": list(origins), "data": data, "source_name": source_name, "preset": preset}
        self._scored = 0
        self.parts = fold_indices(len(labels), folds, seed)  # AuditError now, before anything runs
        super().__init__(None, kind="audit", title=f"Label audit of {source_name}")

    def _run(self) -> None:
        start, n = time.perf_counter(), len(self.labels)
        works = [
            partial(fold_work, self.images, self.labels, held_out, self.config, k)
            for k, held_out in enumerate(self.parts, start=1)
        ]
        results = self._remote_all(works)
        if self._stop.is_set() or any(r is None for r in results):
            self._append({"kind": "stopped", "text": "audit stopped; nothing saved"})
            return
        probs = np.zeros((n, 10), dtype=np.float64)
        for held_out, fold_probs in zip(self.parts, results):
            probs[held_out] = fold_probs
        audit = build_audit(
            self.labels,
            probs,
            config=self.config,
            folds=self.folds,
            seconds=time.perf_counter() - start,
            **self.about,
        )
        self._append(
            {"kind": "audit", "audit": audit, "progress": 1.0, "text": f"{audit.n_flagged} suspects found"}
        )

    def _add(self, record: dict[str, Any]) -> None:
        super()._add(record)
        if record["kind"] == "fold_done":
            self._scored += record["images"]
            n = len(self.labels)
            text = f"fold {record['fold']} of {self.folds} done: {self._scored:,} of {n:,} images scored"
            self._append({"kind": "progress", "progress": self._scored / n, "text": text})
