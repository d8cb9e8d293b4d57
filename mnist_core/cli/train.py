"""`train`: train a model on a data source and save it as a run; Ctrl-C stops after the batch and saves the best epoch.

With $MNIST_STUDIO_SCHEDULER set, the training runs on that Dask cluster, as the app's do, and
the run is saved here; otherwise in this process (a local cluster would only add start-up time).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_core.cli.common import (
    CliError,
    add_config_flags,
    add_preset_flag,
    config_from_args,
    ctrl_c_stops,
    err,
    print_json,
)
from mnist_core.jobs.cluster import SCHEDULER_ENV


def add_parser(sub: Any) -> None:
    train = sub.add_parser("train", help="train a model and save it as a run")
    train.add_argument(
        "--data", default="auto", help="sample | mnist | auto | PATH to a folder of IDX files (default: auto)"
    )
    train.add_argument(
        "--out",
        default=None,
        help="studio folder to save the run in "
        "(runs go to OUT/runs; default: $MNIST_STUDIO_HOME or ./studio_data)",
    )
    train.add_argument("--name", default="", help="a name for the run")
    add_preset_flag(train, "start from a preset, then apply the flags below")
    train.add_argument(
        "--with-collected",
        action="store_true",
        help="add the drawings collected on the Deploy page to the training set",
    )
    train.add_argument(
        "--labels",
        choices=("given", "reviewed"),
        default="given",
        help="reviewed: apply the Labels page's decisions (relabel, exclude) to the training part "
        "only; decisions on validation images are counted, not applied (default: given)",
    )
    add_config_flags(train)
    train.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.data.sources import resolve_source
    from mnist_core.runs.storage import check_home, load_run
    from mnist_core.training.diagnose import diagnose
    from mnist_core.training.pipeline import SavedRecord, train_and_save

    config = config_from_args(args)
    home = Path(args.out).expanduser() if args.out else None
    check_home(home)  # every path is checked before the data is loaded and the training starts
    resolve_source(args.data)
    extra, drawing_ids = _collected(home) if args.with_collected else (None, [])
    review = _review(args.data, home, drawing_ids) if args.labels == "reviewed" else None
    stop = threading.Event()
    saved: SavedRecord | None = None
    end = None
    if os.environ.get(SCHEDULER_ENV, "").strip():
        records = _on_cluster(config, args.data, stop, extra, args.name, home, review)
    else:
        records = train_and_save(
            config,
            args.data,
            stop=stop,
            extra=extra,
            name=args.name,
            home=home,
            report_every=50,
            review=review,
        )
    with ctrl_c_stops(stop):
        for rec in records:
            if rec.kind == "epoch":
                err(
                    f"epoch {rec.epoch}/{rec.epochs}  train loss {rec.train_loss:.4f} "
                    f"acc {rec.train_acc:.2%}  val loss {rec.val_loss:.4f} acc {rec.val_acc:.2%}  "
                    f"{rec.seconds:.1f}s ({rec.samples_per_s:,.0f} img/s)"
                    + ("  *best" if rec.is_best else "")
                )
            elif rec.kind == "batch":
                err(f"  epoch {rec.epoch} batch {rec.batch}/{rec.batches} loss {rec.train_loss:.4f}")
            elif rec.kind == "end":
                end = rec
                err(rec.message)
            elif rec.kind == "saved":
                saved = rec
    if saved is None:
        if stop.is_set():
            raise CliError(
                "interrupted before the first epoch ended: nothing was learned, so no run was saved"
            )
        raise CliError("nothing was learned, so no run was saved")
    run = load_run(saved.path)
    diag = diagnose(run.history, run.config, saved.status)
    verdict = _verdict(diag, saved.val_accuracy, run.config.model)
    labels = _reviewed_account(run.meta) if review is not None else None
    print_json(
        {
            "run": saved.path,
            "run_id": saved.run_id,
            "status": saved.status,
            "val_accuracy": saved.val_accuracy,
            "best_epoch": end.best_epoch if end else None,
            "diagnosis": verdict,
            "diagnosis_kind": diag.kind,
            "advice": diag.advice,
            "changes": diag.changes,
            **({"labels": labels} if labels else {}),
        }
    )
    err(_status_line(saved, verdict, diag.advice))
    if stop.is_set():
        return 130  # saved, but interrupted: `train && next` must not go on
    return 1 if saved.status == "diverged" else 0


def _on_cluster(
    config: Any, data: str, stop: threading.Event, extra: Any, name: str, home: Path | None, review: Any
) -> Iterator[Any]:
    """The same records as `train_and_save`, from a training job on the configured cluster
    (SchedulerUnreachable, one line, when it is away); the run is saved in `home` here."""
    from types import SimpleNamespace

    from mnist_core.jobs.training import TrainingJob

    job = TrainingJob([config], [name], data, extra, home, review).start()
    err(f"training on the Dask cluster at {os.environ[SCHEDULER_ENV].strip()}")
    seen = 0
    while True:
        over = not job.running  # read before the records, so the last ones are not missed
        if stop.is_set():
            job.stop()
        snap = job.snapshot()
        for record in snap.records[seen:]:
            yield SimpleNamespace(**record)
        seen = len(snap.records)
        if over:
            break
        time.sleep(0.2)
    if snap.state == "failed":
        raise CliError(f"the training failed on the cluster: {snap.error}")


# Validation accuracy below this is chance level (guessing gives 10 %, the majority class ~11 %),
# whatever the number of epochs: such a run must never be reported as a success.
CHANCE_LEVEL = 0.2
_VERDICTS = {
    "stuck": "not learning",
    "diverged": "diverged",
    "good": "good fit",
    "overfitting": "overfitting",
    "underfitting": "underfitting",
    "still_learning": "still learning",
    "too_early": "too early to tell",
    "baseline": "baseline",
    "waiting": "nothing learned",
}


def _verdict(diag: Any, val_accuracy: float | None, model: str) -> str:
    """The diagnosis in two words for the JSON; a chance-level model is "not learning"."""
    if (
        model != "baseline"
        and diag.kind != "diverged"
        and isinstance(val_accuracy, (int, float))
        and val_accuracy < CHANCE_LEVEL
    ):
        return "not learning"
    return _VERDICTS.get(diag.kind, diag.kind.replace("_", " "))


def _status_line(saved: Any, verdict: str, advice: str) -> str:
    acc = saved.val_accuracy
    acc_s = f"{acc:.1%}" if isinstance(acc, (int, float)) else "n/a"
    if verdict == "not learning":
        return (
            f"warning: run {saved.run_id} was saved, but the model is not learning: validation "
            f"accuracy {acc_s} (guessing gives 10 %). {advice}"
        ).strip()
    if verdict == "diverged":
        return f"warning: training diverged; run {saved.run_id} keeps what it had learned. {advice}".strip()
    if verdict == "baseline":
        return f"saved run {saved.run_id}: a majority-class baseline (validation accuracy {acc_s}), the bar a model must clear"
    return f"saved run {saved.run_id} ({saved.status}): validation accuracy {acc_s}, {verdict}"


def _collected(home: Path | None):
    from mnist_core.config import studio_home
    from mnist_core.deploy.collect import DrawingStore

    found = DrawingStore((home or studio_home()) / "drawings.db").training_data()
    if found is None:
        raise CliError("--with-collected: no collected drawings yet (label some on the Deploy page)")
    err(f"adding {len(found[0])} collected drawings to the training set")
    return found


def _review(spec: str, home: Path | None, drawing_ids: list[int]):
    """The pipeline's split review that applies the stored decisions for `spec`'s data."""
    from functools import partial

    from mnist_core.data.sources import resolve_source
    from mnist_core.labels.apply import review_split, stored_decisions

    return partial(review_split, stored_decisions(resolve_source(spec).key, home), drawing_ids=drawing_ids)


def _reviewed_account(meta: dict) -> dict:
    from mnist_core.labels.apply import ReviewSummary

    summary = ReviewSummary.from_meta(meta)
    err(summary.sentence())
    return summary.to_meta()
