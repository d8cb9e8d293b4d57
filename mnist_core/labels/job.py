"""An audit in one process: load the data, run the folds, save the audit, yield plain records.

`audit_work(stop, spec, ...)` is what `labels audit` runs (the Labels page runs the same audit
with its folds as parallel cluster tasks: mnist_core.jobs.audit). Its arguments and records are
plain values, so it can be bound with functools.partial and run anywhere; the audit itself stays
in the records only as its id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_core.labels.audit import DEFAULT_FOLDS, Audit, audit_preset, fold_indices, run_audit
from mnist_core.labels.source import audit_input
from mnist_core.labels.store import save_audit


def saved_record(audit: Audit) -> dict[str, Any]:
    """The record that ends an audit job once the audit is saved (the Labels page reads it)."""
    return {
        "kind": "saved",
        "audit_id": audit.id,
        "n_flagged": audit.n_flagged,
        "n_images": audit.n_images,
        "seconds": audit.seconds,
        "progress": 1.0,
        "text": f"{audit.n_flagged} suspects among {audit.n_images:,} images ({audit.seconds:.0f} s)",
    }


def audit_work(
    stop: threading.Event,
    spec: str,
    *,
    preset: str = "",
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    include_drawings: bool = False,
    home: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Audit the labels of `spec` and save the result; progress records, then {"kind": "saved"}."""
    folder = Path(home) if home else None
    preset, config = audit_preset(preset)
    data = audit_input(spec, include_drawings, folder)
    n = len(data.labels)
    fold_indices(n, folds, seed)  # too few images for the folds: one line before any training
    yield {
        "kind": "progress",
        "fold": 0,
        "folds": folds,
        "images_done": 0,
        "progress": 0.0,
        "text": f"auditing {n:,} labels of {data.source_name} with {folds} folds",
    }
    for rec in run_audit(
        data.images,
        data.labels,
        origins=data.origins,
        data=data.data,
        source_name=data.source_name,
        preset=preset,
        config=config,
        folds=folds,
        seed=seed,
        stop=stop,
    ):
        if rec["kind"] == "audit":
            audit = rec["audit"]
            save_audit(audit, folder)
            yield saved_record(audit)
        else:
            yield rec
