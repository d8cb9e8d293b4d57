"""Command line: `python -m mnist_core train | evaluate | predict | runs`.

Progress goes to stderr as plain lines; results go to stdout as JSON (never NaN), so scripts
can pipe them. Bad input exits with status 2 and a one-line reason, never a traceback: every
path argument is checked before any work starts. Ctrl-C during `train` stops after the current
batch and saves the best epoch so far as a "stopped" run (press it twice to abort at once).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnist_core.cli.common import (
    CliError,
    add_config_flags,
    add_preset_flag,
    add_run_command,
    config_from_args,
    err,
    print_json,
)
from mnist_core.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core", description="Train, evaluate and use MNIST digit classifiers."
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
    add_config_flags(train)

    ev = add_run_command(sub, "evaluate", "evaluate a saved run; prints JSON")
    ev.add_argument("--data", default=None, help="data source (default: the one the run used)")
    ev.add_argument("--split", choices=("val", "test"), default="val")

    pr = add_run_command(sub, "predict", "predict the digit in image files; one JSON line each")
    pr.add_argument("images", nargs="+", help="PNG/JPEG files")

    runs = sub.add_parser("runs", help="list saved runs")
    runs.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    runs.add_argument(
        "--out", default=None, help="studio folder to list (default: $MNIST_STUDIO_HOME or ./studio_data)"
    )
    from mnist_core.planning.tune import add_parser as add_tune_parser

    add_tune_parser(sub)
    from mnist_core.evaluation.calibration import add_parser as add_calibrate_parser
    from mnist_core.evaluation.robustness import add_parser as add_robustness_parser

    add_calibrate_parser(sub)
    add_robustness_parser(sub)
    from mnist_core.planning.curve import add_parser as add_curve_parser

    add_curve_parser(sub)
    return parser


# ------------------------------------------------------------------ commands


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_core.data.sources import resolve_source
    from mnist_core.runs.storage import check_home, load_run
    from mnist_core.training.diagnose import diagnose
    from mnist_core.training.pipeline import SavedRecord, train_and_save

    config = config_from_args(args)
    home = Path(args.out).expanduser() if args.out else None
    check_home(home)  # every path is checked before the data is loaded and the training starts
    resolve_source(args.data)
    extra = _collected(home) if args.with_collected else None
    stop = threading.Event()
    saved: SavedRecord | None = None
    end = None
    with _ctrl_c_stops(stop):
        for rec in train_and_save(
            config, args.data, stop=stop, extra=extra, name=args.name, home=home, report_every=50
        ):
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
        }
    )
    err(_status_line(saved, verdict, diag.advice))
    if stop.is_set():
        return 130  # saved, but interrupted: `train && next` must not go on
    return 1 if saved.status == "diverged" else 0


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


@contextlib.contextmanager
def _ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While training, the first Ctrl-C sets `stop` (the trainer ends, the pipeline saves the best
    epoch as a "stopped" run); a second one aborts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers live in the main thread only
        return

    def first(signum: int, frame: Any) -> None:
        stop.set()
        err("stopping after this batch; the best epoch so far will be saved (Ctrl-C again to abort)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _collected(home: Path | None):
    from mnist_core.config import studio_home
    from mnist_core.deploy.collect import DrawingStore

    extra = DrawingStore((home or studio_home()) / "drawings.db").training_images()
    if extra is None:
        raise CliError("--with-collected: no collected drawings yet (label some on the Deploy page)")
    err(f"adding {len(extra)} collected drawings to the training set")
    return extra


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_core.data.preprocess import make_split
    from mnist_core.data.sources import load_test, resolve_source
    from mnist_core.evaluation.evaluate import evaluate
    from mnist_core.runs.evaluations import evaluation_note, evaluation_record, is_own_source, save_evaluation
    from mnist_core.runs.storage import load_run

    run = load_run(args.run)
    source = resolve_source(args.data) if args.data else None  # checked before any work
    own = is_own_source(run, source)
    spec = source.key if source else run.meta.get("data", "auto")
    model = run.load_model()
    if args.split == "test":
        data = load_test(spec)
    else:
        data = make_split(spec, run.config).val
    result = evaluate(model, data, args.split, max_mistakes=0)
    if args.split == "test":
        # every look at the run's own test set is counted; other data is stored as such
        run = save_evaluation(run, result, data=data, source=source)
    record = evaluation_record(run, result, data, source)
    out = {
        "run": str(run.path),
        "split": args.split,
        "data": spec,
        "n": result.n,
        "loss": result.loss,
        "accuracy": result.accuracy,
        "confusion": result.confusion,
        "per_class": [dataclasses.asdict(c) for c in result.per_class],
        "own_data": own,
        "source": record["source"],
        "source_name": record["source_name"],
        "fingerprint": record["fingerprint"],
        "on": evaluation_note(record),
    }
    if args.split == "test":
        out["test_evaluations"] = run.meta.get("test_evaluations")
    print_json(out)
    if not own:
        err(
            f"evaluated {evaluation_note(record)}: not the run's own {args.split} set, so "
            "the run's own figures are unchanged"
            + (" (stored as another evaluation)" if args.split == "test" else "")
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from mnist_core.deploy.drawing import ImageError
    from mnist_core.deploy.predict import answer_text, predict_digit, prepare_upload
    from mnist_core.evaluation.calibration import predict_options
    from mnist_core.runs.storage import load_run

    run = load_run(args.run)
    model, options = run.load_model(), predict_options(run)  # the run's temperature and "not sure" line
    failed = 0
    for name in args.images:
        try:
            prediction = predict_digit(model, prepare_upload(Path(name).read_bytes()), **options)
        except (OSError, ImageError) as exc:
            print(json.dumps({"file": name, "error": str(exc)}))
            failed += 1
            continue
        probs = prediction.probabilities
        print_json(
            {
                "file": name,
                "digit": prediction.digit,
                "probabilities": None if probs is None else [round(float(p), 6) for p in probs],
                "unsure": prediction.is_unsure,
                "message": answer_text(prediction),
            }
        )
    return 2 if failed else 0


def cmd_runs(args: argparse.Namespace) -> int:
    from mnist_core.runs.listing import scan_runs

    home = Path(args.out).expanduser() if args.out else None
    if home is not None and home.exists() and not home.is_dir():
        raise CliError(f"--out {args.out} is a file, not a studio folder")
    listing = scan_runs(home)
    if listing.note:
        err(listing.note)
    runs = listing.runs
    if args.json:
        for r in runs:
            print_json(
                {
                    "id": r.id,
                    "path": str(r.path),
                    "model": r.config.summary(),
                    "status": r.meta.get("status"),
                    "val_accuracy": r.meta.get("val_accuracy"),
                    "created": r.meta.get("created"),
                }
            )
        return 0
    if not runs:
        print("No saved runs yet: python -m mnist_core train")
        return 0
    print(f"{'run':34} {'model':28} {'status':13} {'val acc':>8}  created")
    for r in runs:
        acc = r.meta.get("val_accuracy")
        print(
            f"{r.id:34} {r.config.summary():28} {str(r.meta.get('status')):13} "
            f"{(f'{acc:.2%}' if isinstance(acc, float) else '-'):>8}  {r.meta.get('created', '')}"
        )
    return 0


def user_errors() -> tuple[type[BaseException], ...]:
    """Every error type the core raises for bad input: printed as one line, exit status 2."""
    from mnist_core.data.errors import DataError
    from mnist_core.deploy.collect import CollectError
    from mnist_core.deploy.drawing import ImageError
    from mnist_core.deploy.export import ExportError
    from mnist_core.evaluation.calibration import CalibrationError
    from mnist_core.evaluation.robustness import RobustnessError
    from mnist_core.planning.costs import CostError
    from mnist_core.runs.files import StorageError
    from mnist_core.training.jobs import JobBusy

    # OSError: disk full, permission denied; MemoryError: an input too large for this machine
    return (
        CliError,
        ConfigError,
        DataError,
        StorageError,
        CollectError,
        ImageError,
        ExportError,
        CostError,
        JobBusy,
        OSError,
        MemoryError,
        CalibrationError,
        RobustnessError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_core.planning.curve import cmd_curve
    from mnist_core.planning.tune import cmd_tune

    commands = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "runs": cmd_runs,
        "tune": cmd_tune,
        "curve": cmd_curve,
    }
    from mnist_core.evaluation.calibration import cmd_calibrate
    from mnist_core.evaluation.robustness import cmd_robustness

    commands.update(calibrate=cmd_calibrate, robustness=cmd_robustness)
    try:
        return commands[args.command](args)
    except user_errors() as exc:
        err(f"error: {' '.join(str(exc).split()) or type(exc).__name__}")
        return 2
    except KeyboardInterrupt:
        err("error: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
