"""Evaluations stored with a run, and where their images came from: the run's own data sets its
validation/test figures, any other data is kept apart as "on folder X, 5 images"."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mnist_core.data.sources import Images, SourceInfo, images_fingerprint
from mnist_core.runs.files import write_json
from mnist_core.runs.storage import Run, folder_for_writing, update_meta

if TYPE_CHECKING:
    from mnist_core.evaluation.evaluate import EvalResult


def save_evaluation(
    run: Run, result: EvalResult, *, data: Images | None = None, source: SourceInfo | None = None
) -> Run:
    """Store an evaluation, with where its images came from.

    `source` None means the run's own data. On the run's own source the evaluation becomes the
    run's figure (eval_<split>.json, meta <split>_accuracy); a test evaluation also bumps the test
    counter and records test_source / test_n / test_fingerprint. On another source nothing of the
    run's own figures changes: the result is appended to meta["other_evaluations"] (see
    `evaluation_record`), to be shown as "on folder X, 5 images", never as the test accuracy.
    """
    folder_for_writing(run)
    record = evaluation_record(run, result, data, source)
    if not is_own_source(run, source):
        return update_meta(run, other_evaluations=[*run.meta.get("other_evaluations", []), record])
    write_json(run.path / f"eval_{result.split}.json", result.to_dict())
    if result.split == "test":
        return update_meta(
            run,
            test_evaluations=int(run.meta.get("test_evaluations", 0)) + 1,
            test_accuracy=result.accuracy,
            test_loss=result.loss,
            test_source=record["source"],
            test_n=result.n,
            test_fingerprint=record["fingerprint"],
        )
    return update_meta(
        run, **{f"{result.split}_accuracy": result.accuracy, f"{result.split}_loss": result.loss}
    )


def is_own_source(run: Run, source: SourceInfo | None) -> bool:
    """Whether `source` (None: the caller's "the run's own data") is the data the run trained on."""
    own = run.meta.get("data")
    return source is None or not own or source.key == own


def evaluation_record(
    run: Run, result: EvalResult, data: Images | None = None, source: SourceInfo | None = None
) -> dict[str, Any]:
    """{split, source, source_name, source_kind, n, fingerprint, accuracy, loss, created}.

    `fingerprint` is `data.images_fingerprint(data)` (None without `data`), so two evaluations
    can be told apart even when their folders have the same name.
    """
    return {
        "split": result.split,
        "source": source.key if source else run.meta.get("data"),
        "source_name": source.name if source else run.meta.get("data_name"),
        "source_kind": source.kind if source else run.meta.get("data_kind"),
        "n": result.n,
        "fingerprint": images_fingerprint(data) if data is not None else None,
        "accuracy": result.accuracy,
        "loss": result.loss,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def evaluation_note(record: Mapping[str, Any]) -> str:
    """Where an evaluation's images came from, in words: "on folder /x/y, 5 images"."""
    kind, key, name = record.get("source_kind"), record.get("source"), record.get("source_name")
    where = f"folder {key}" if kind == "folder" else (name or key or "unknown data")
    n = record.get("n")
    count = f", {n:,} image{'s' * (n != 1)}" if isinstance(n, int) and not isinstance(n, bool) else ""
    return f"on {where}{count}"
