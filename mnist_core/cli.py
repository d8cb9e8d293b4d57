"""Command line: `python -m mnist_core train | evaluate | predict | runs`.

Progress goes to stderr as plain lines; results go to stdout as JSON, so scripts can pipe
them. Bad input exits with status 2 and a one-line reason, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from .config import ConfigError, TrainConfig, all_fields


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hyperparameters (TrainConfig)")
    for info in all_fields():
        kind = {"int": int, "float": float, "bool": _bool, "str": str}[info["type"]]
        flag = "--" + info["name"].replace("_", "-")
        extra: dict[str, Any] = {"choices": info["choices"]} if info["choices"] else {}
        group.add_argument(flag, dest=info["name"], type=kind, default=None,
                           help=f"{info['help']} (default: {info['default']})", **extra)


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    from .config import PRESETS

    base = PRESETS[args.preset] if args.preset else TrainConfig()
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if getattr(args, f.name, None) is not None}
    return base.replace(**changes)


def build_parser() -> argparse.ArgumentParser:
    from .config import PRESETS

    parser = argparse.ArgumentParser(prog="python -m mnist_core",
                                     description="Train, evaluate and use MNIST digit classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model and save it as a run")
    train.add_argument("--data", default="auto",
                       help="sample | mnist | auto | PATH to a folder of IDX files (default: auto)")
    train.add_argument("--out", default=None, help="studio folder to save the run in "
                       "(runs go to OUT/runs; default: $MNIST_STUDIO_HOME or ./studio_data)")
    train.add_argument("--name", default="", help="a name for the run")
    train.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="start from a preset, then apply the flags below")
    train.add_argument("--with-collected", action="store_true",
                       help="add the drawings collected on the Deploy page to the training set")
    _add_config_flags(train)

    ev = sub.add_parser("evaluate", help="evaluate a saved run; prints JSON")
    ev.add_argument("run", help="run id or folder")
    ev.add_argument("--data", default=None, help="data source (default: the one the run used)")
    ev.add_argument("--split", choices=("val", "test"), default="val")

    pr = sub.add_parser("predict", help="predict the digit in image files; one JSON line each")
    pr.add_argument("run", help="run id or folder")
    pr.add_argument("images", nargs="+", help="PNG/JPEG files")

    runs = sub.add_parser("runs", help="list saved runs")
    runs.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    runs.add_argument("--out", default=None, help="studio folder to list (default: $MNIST_STUDIO_HOME "
                      "or ./studio_data)")
    return parser


# ------------------------------------------------------------------ commands

def cmd_train(args: argparse.Namespace) -> int:
    from .data import DataError, Images
    from .pipeline import SavedRecord, train_and_save

    config = _config_from_args(args)
    home = Path(args.out) if args.out else None
    extra = _collected(home) if args.with_collected else None
    stop = threading.Event()
    saved: SavedRecord | None = None
    end = None
    try:
        for rec in train_and_save(config, args.data, stop=stop, extra=extra, name=args.name,
                                  home=home, report_every=50):
            if rec.kind == "epoch":
                _err(f"epoch {rec.epoch}/{rec.epochs}  train loss {rec.train_loss:.4f} "
                     f"acc {rec.train_acc:.2%}  val loss {rec.val_loss:.4f} acc {rec.val_acc:.2%}  "
                     f"{rec.seconds:.1f}s ({rec.samples_per_s:,.0f} img/s)" + ("  *best" if rec.is_best else ""))
            elif rec.kind == "batch":
                _err(f"  epoch {rec.epoch} batch {rec.batch}/{rec.batches} loss {rec.train_loss:.4f}")
            elif rec.kind == "end":
                end = rec
                _err(rec.message)
            elif rec.kind == "saved":
                saved = rec
    except KeyboardInterrupt:
        stop.set()
        raise CliError("interrupted")
    except DataError as exc:
        raise CliError(str(exc)) from exc
    if saved is None:
        raise CliError("nothing was learned, so no run was saved")
    print(json.dumps({"run": saved.path, "run_id": saved.run_id, "status": saved.status,
                      "val_accuracy": saved.val_accuracy,
                      "best_epoch": end.best_epoch if end else None}))
    return 1 if saved.status == "diverged" else 0


def _collected(home: Path | None):
    from .collect import DrawingStore
    from .config import studio_home

    extra = DrawingStore((home or studio_home()) / "drawings.db").training_images()
    if extra is None:
        raise CliError("--with-collected: no collected drawings yet (label some on the Deploy page)")
    _err(f"adding {len(extra)} collected drawings to the training set")
    return extra


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import load_test
    from .evaluate import evaluate
    from .preprocess import make_split
    from .storage import load_run, save_evaluation

    run = load_run(args.run)
    spec = args.data or run.meta.get("data", "auto")
    model = run.load_model()
    if args.split == "test":
        data = load_test(spec)
    else:
        data = make_split(spec, run.config).val
    result = evaluate(model, data, args.split, max_mistakes=0)
    if args.split == "test":
        run = save_evaluation(run, result)  # every look at the test set is counted
    out = {"run": str(run.path), "split": args.split, "data": spec, "n": result.n,
           "loss": result.loss, "accuracy": result.accuracy, "confusion": result.confusion,
           "per_class": [dataclasses.asdict(c) for c in result.per_class]}
    if args.split == "test":
        out["test_evaluations"] = run.meta.get("test_evaluations")
    print(json.dumps(out))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .drawing import ImageError
    from .predict import prepare_upload, predict_digit, verdict
    from .storage import load_run

    model = load_run(args.run).load_model()
    failed = 0
    for name in args.images:
        try:
            prediction = predict_digit(model, prepare_upload(Path(name).read_bytes()))
        except (OSError, ImageError) as exc:
            print(json.dumps({"file": name, "error": str(exc)}))
            failed += 1
            continue
        probs = prediction.probabilities
        print(json.dumps({"file": name, "digit": prediction.digit,
                          "probabilities": None if probs is None else [round(float(p), 6) for p in probs],
                          "unsure": prediction.is_unsure, "message": verdict(prediction)}))
    return 2 if failed else 0


def cmd_runs(args: argparse.Namespace) -> int:
    from .storage import list_runs

    runs = list_runs(Path(args.out) if args.out else None)
    if args.json:
        for r in runs:
            print(json.dumps({"id": r.id, "path": str(r.path), "model": r.config.summary(),
                              "status": r.meta.get("status"), "val_accuracy": r.meta.get("val_accuracy"),
                              "created": r.meta.get("created")}))
        return 0
    if not runs:
        print("No saved runs yet: python -m mnist_core train")
        return 0
    print(f"{'run':34} {'model':28} {'status':13} {'val acc':>8}  created")
    for r in runs:
        acc = r.meta.get("val_accuracy")
        print(f"{r.id:34} {r.config.summary():28} {str(r.meta.get('status')):13} "
              f"{(f'{acc:.2%}' if isinstance(acc, float) else '-'):>8}  {r.meta.get('created', '')}")
    return 0


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    from .data import DataError
    from .storage import StorageError

    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "runs": cmd_runs}
    try:
        return commands[args.command](args)
    except (CliError, ConfigError, DataError, StorageError) as exc:
        _err(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("error: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
