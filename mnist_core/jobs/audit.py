"""A label audit as a cluster job: its K folds are K independent tasks, run in parallel.

Each fold trains on the other folds and scores its own (labels.audit.fold_steps, a pure
function of its inputs and the seed), so running them apart gives the same probabilities, and
the same audit, as the in-process `run_audit`. The app puts the folds together, ranks the
suspects (`build_audit`) and, given a studio home, saves the audit there: workers need no
shared disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.jobs.job import Job
from mnist_core.jobs.remote import relay
from mnist_core.labels.audit import DEFAULT_FOLDS, audit_preset, build_audit, fold_indices, fold_steps


def fold_work(
    images: Any, labels: Any, held_out: np.ndarray, config: TrainConfig, fold: int, stop: threading.Event
) -> Generator[dict[str, Any], None, np.ndarray | None]:
    """On a worker: one fold's held-out probabilities (None if stopped), an epoch record after
    each epoch so the app can say how far every fold has got."""
    steps = fold_steps(images, labels, held_out, config, stop)
    return (
        yield from relay(
            steps, lambda at: {"kind": "fold_epoch", "fold": fold, "epoch": at[0], "epochs": at[1]}
        )
    )


class AuditJob(Job):
    """Audit `labels` of `images` with the folds in parallel; ends with an {"kind": "audit"}
    record, then {"kind": "saved"} when it has a studio home to save to."""

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
        home: Path | None = None,
        save: bool = False,
    ) -> None:
        self.images, self.labels, self.config, self.folds, self.seed = images, labels, config, folds, seed
        self.about = {"origins": list(origins), "data": data, "source_name": source_name, "preset": preset}
        self.home, self.save = home, save
        self._epochs: dict[int, float] = {}  # fold -> share of its epochs done
        self.parts = fold_indices(len(labels), folds, seed)  # AuditError now, before anything runs
        super().__init__(None, kind="audit", title=f"Label audit of {source_name} ({folds} folds)")

    @classmethod
    def of_source(
        cls,
        spec: str,
        *,
        preset: str = "",
        folds: int = DEFAULT_FOLDS,
        seed: int = 0,
        include_drawings: bool = False,
        home: Path | None = None,
    ) -> AuditJob:
        """The audit the Labels page starts: `spec`'s training pool (and the labelled drawings),
        loaded here, the folds on the cluster, the audit saved in `home`."""
        from mnist_core.labels.source import audit_input

        data = audit_input(spec, include_drawings, home)
        name, config = audit_preset(preset)
        return cls(
            data.images,
            data.labels,
            origins=data.origins,
            data=data.data,
            source_name=data.source_name,
            preset=name,
            config=config,
            folds=folds,
            seed=seed,
            home=home,
            save=True,
        )

    def _run(self) -> None:
        start, n = time.perf_counter(), len(self.labels)
        self._append(
            {
                "kind": "progress",
                "progress": 0.0,
                "text": f"auditing {n:,} labels of {self.about['source_name']} with {self.folds} folds",
            }
        )
        works = [
            partial(fold_work, self.images, self.labels, held_out, self.config, k)
            for k, held_out in enumerate(self.parts, start=1)
        ]
        results = self._remote_all(works)
        if self._stop.is_set() or any(r is None for r in results):
            self._append({"kind": "stopped", "text": "audit stopped before its last fold: nothing saved"})
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
        if self.save:
            from mnist_core.labels.job import saved_record
            from mnist_core.labels.store import save_audit

            save_audit(audit, self.home)
            self._append(saved_record(audit))

    def _add(self, record: dict[str, Any]) -> None:
        if record["kind"] != "fold_epoch":
            super()._add(record)
            return
        self._epochs[record["fold"]] = record["epoch"] / max(record["epochs"], 1)
        finished = sum(1 for share in self._epochs.values() if share >= 1)
        text = (
            f"{finished} of {self.folds} folds done; fold {record['fold']} at epoch "
            f"{record['epoch']} of {record['epochs']}"
        )
        share = sum(self._epochs.values()) / self.folds
        self._append({"kind": "progress", "progress": share, "text": text})
