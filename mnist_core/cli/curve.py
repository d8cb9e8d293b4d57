"""`curve`: measure a learning curve, fit and save it, and answer how many labels reach --target.

With `--strategy random,uncertainty` one curve per labelling strategy is measured (same sizes,
seeds and validation set) and compared. Progress goes to stderr (the plan, then one line per
training); the answer is one JSON line on stdout: the first strategy's answer under the keys a
single curve always had, every strategy's under "strategies", and "labels_saved".
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

from mnist_core.cli.common import (
    CliError,
    add_config_flags,
    add_preset_flag,
    config_from_args,
    err,
    print_json,
)
from mnist_core.config import DEFAULT_PRESET
from mnist_core.planning.curve.advice import DEFAULT_TARGET, check_target, estimate_sentence
from mnist_core.planning.curve.compare import compare_at_target, measure_strategies, saving_sentence
from mnist_core.planning.curve.fit import Fit
from mnist_core.planning.curve.schedule import parse_sizes
from mnist_core.planning.curve.strategies import STRATEGIES, parse_strategies


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "curve",
        help="measure a learning curve: how many labelled images reach a "
        "target accuracy; progress on stderr, JSON on stdout",
    )
    p.add_argument(
        "--data", default="auto", help="sample | mnist | auto | PATH to a folder of IDX files (default: auto)"
    )
    add_preset_flag(p, f"start from a preset (default: {DEFAULT_PRESET}), then apply the flags below")
    p.add_argument(
        "--sizes",
        default=None,
        help="training-set sizes, comma-separated, e.g. 250,500,1000,2000 "
        "(default: 125, 250, … doubling, up to the whole training split)",
    )
    p.add_argument(
        "--seeds", type=int, default=2, help="trainings per size below half the largest size (default: 2)"
    )
    p.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help=f"target validation accuracy as a fraction (default: {DEFAULT_TARGET})",
    )
    p.add_argument(
        "--strategy",
        default="random",
        help=f"labelling strategies to compare, comma-separated: {', '.join(STRATEGIES)} (default: random)",
    )
    p.add_argument("--name", default="", help="a name for the saved curve")
    p.add_argument(
        "--out",
        default=None,
        help="studio folder to save the curve in (curves go to "
        "OUT/curves; default: $MNIST_STUDIO_HOME or ./studio_data)",
    )
    add_config_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    args.preset = args.preset or DEFAULT_PRESET
    config = config_from_args(args)
    home = Path(args.out) if args.out else None
    stop = threading.Event()
    final: dict[str, Any] | None = None
    check_target(args.target)
    strategies = parse_strategies(args.strategy)
    sizes = parse_sizes(args.sizes) if args.sizes is not None else None
    records = measure_strategies(config, args.data, sizes, args.seeds, strategies, stop, home, args.name)
    try:
        for rec in records:
            tag = f"{rec.get('strategy')}: " if len(strategies) > 1 else ""
            if rec["kind"] == "point":
                err(
                    f"{tag}[{rec['index'] + 1}/{rec['total']}] {rec['size']:,} images, seed {rec['seed'] + 1}: "
                    f"val error {rec['val_error']:.2%} (acc {rec['val_acc']:.2%}), {rec['epochs']} epochs, "
                    f"{rec['seconds']:.1f} s"
                )
            elif rec["kind"] == "progress" and rec["index"] == 0 and rec["size"] is None:
                err(rec["text"])
            elif rec["kind"] == "curve":
                err(rec["text"])
            elif rec["kind"] == "comparison":
                final = rec
    except KeyboardInterrupt:
        stop.set()  # nothing is saved before the last record, so no half-written curve remains
        raise
    curves = final["curves"] if final else {}
    fitted = {s: c for s, c in curves.items() if c["fit"] is not None}
    first = curves.get(strategies[0])
    if first is None or first["fit"] is None:
        raise CliError(first["message"] if first else "the measurement ended without a curve")
    fits = {s: (Fit.from_dict(c["fit"]), c["n_train"]) for s, c in fitted.items()}
    comparison = compare_at_target(fits, args.target)
    answers = {s: answer(c, fits[s][0], comparison["strategies"][s], args, config) for s, c in fitted.items()}
    print_json(
        {
            **answers[strategies[0]],
            "strategies": answers,
            "labels_saved": comparison["labels_saved"],
            "saving": saving_sentence(comparison) if len(fitted) > 1 else None,
        }
    )
    return 0


def answer(
    final: dict[str, Any], fit: Fit, est: dict[str, Any], args: argparse.Namespace, config: Any
) -> dict[str, Any]:
    """One strategy's measured curve and its answer at the target (a single curve's JSON keys)."""
    return {
        "curve": final["id"],
        "path": final["path"],
        "status": final["status"],
        "strategy": final["strategy"],
        "data": args.data,
        "n_train": final["n_train"],
        "n_val": final["n_val"],
        "points": [
            {k: p[k] for k in ("size", "seed", "val_error", "val_acc", "epochs", "seconds")}
            for p in final["points"]
        ],
        "fit": {"a": fit.a, "b": fit.b, "c": fit.c, "rmse": fit.rmse},
        "target": est["target_accuracy"],
        "reachable": est["reachable"],
        "size_needed": est["size"],
        "size_range": [est["low"], est["high"]],
        "have": est["have"],
        "enough": est["enough"],
        "labels_saved": est["labels_saved"],
        "sentence": estimate_sentence(fit, args.target, final["n_train"], config),
        "honesty": final["honesty"],
        "elapsed_s": final["elapsed"],
    }
