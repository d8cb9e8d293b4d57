"""Field accuracy: how models do on the digits users drew, per model and per digit, set against
each run's accuracy on MNIST (the gap says how well MNIST accuracy carries over to real drawings).

The store (`collect.DrawingStore.field_accuracy`) counts; this module turns counts into rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnist_core.evaluation.evaluate import ClassMetrics
    from mnist_core.runs.storage import Run


def accuracy_entry(model: str | None, digits: dict[int, tuple[int, int]]) -> dict:
    """{"model", "n", "accuracy", "per_digit": {0..9: {"n", "accuracy"}}} from (drawings, right)
    counts per digit; a digit with no drawings has n 0 and accuracy None."""
    n = sum(c for c, _ in digits.values())
    right = sum(r for _, r in digits.values())
    per_digit = {}
    for d in range(10):
        d_n, d_right = digits.get(d, (0, 0))
        per_digit[d] = {"n": d_n, "accuracy": _ratio(d_right, d_n)}
    return {"model": model, "n": n, "accuracy": _ratio(right, n), "per_digit": per_digit}


def _ratio(right: int, n: int) -> float | None:
    return right / n if n else None


def _gap(field: float | None, mnist: float | None) -> float | None:
    return None if field is None or mnist is None else field - mnist


def field_summary(field: list[dict], runs: Mapping[str, Run]) -> list[dict]:
    """One row per model that predicted collected drawings, with its MNIST accuracies next to it.

    `field` is `DrawingStore.field_accuracy()`; `runs` maps run id → storage.Run for the runs
    that still exist: a deleted run keeps its field numbers but has no validation/test accuracy.
    """
    rows = []
    for entry in field:
        run = runs.get(entry["model"]) if entry["model"] else None
        meta = run.meta if run is not None else {}
        val_acc = meta.get("val_accuracy")
        rows.append(
            {
                "model": run.label if run is not None else f"{entry['model'] or 'unknown'} (deleted)",
                "run_id": entry["model"],
                "drawings": entry["n"],
                "field_accuracy": entry["accuracy"],
                "val_accuracy": val_acc,
                "test_accuracy": meta.get("test_accuracy"),
                "gap": _gap(entry["accuracy"], val_acc),
            }
        )
    return rows


def digit_gaps(field_entry: dict, val_per_class: list[ClassMetrics] | None) -> list[dict]:
    """Per digit: drawings, field accuracy, validation accuracy (recall) and their gap.

    `field_entry` is one item of `DrawingStore.field_accuracy()`; `val_per_class` the
    `per_class` of the run's validation EvalResult (None when unknown). Missing values are None.
    """
    val = {c.digit: c.recall for c in (val_per_class or [])}
    rows = []
    for digit in range(10):
        d = field_entry["per_digit"][digit]
        rows.append(
            {
                "digit": digit,
                "drawings": d["n"],
                "field_accuracy": d["accuracy"],
                "val_accuracy": val.get(digit),
                "gap": _gap(d["accuracy"], val.get(digit)),
            }
        )
    return rows
