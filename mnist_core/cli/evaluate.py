"""`evaluate RUN`: a saved run on its validation or test set (each look at the test set is counted)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from mnist_core.cli.common import CliError, add_run_command, err, print_json


def add_parser(sub: Any) -> None:
    ev = add_run_command(sub, "evaluate", "evaluate a saved run; prints JSON")
    ev.add_argument("--data", default=None, help="data source (default: the one the run used)")
    ev.add_argument("--split", choices=("val", "test"), default="val")
    ev.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.data.preprocess import make_split
    from mnist_core.data.sources import load_test, resolve_source
    from mnist_core.evaluation.evaluate import evaluate
    from mnist_core.runs.evaluations import evaluation_note, evaluation_record, is_own_source, save_evaluation
    from mnist_core.runs.storage import load_run

    run = load_run(args.run)
    source = resolve_source(args.data) if args.data else None  # checked before any work
    if source is None and not run.meta.get("data"):
        raise CliError(
            f"Run {run.id} does not record which data it was trained on (its meta.json is missing "
            "or damaged): name the data to evaluate it on with --data."
        )
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
