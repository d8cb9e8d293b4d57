"""`curve`: measure a learning curve, fit and save it, and answer how many labels reach --target.

Progress goes to stderr (the plan, then one line per training); the answer is one JSON line on stdout.
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
from mnist_core.planning.curve.advice import DEFAULT_TARGET, check_target, estimate_sentence, target_estimate
from mnist_core.planning.curve.fit import Fit
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.schedule import parse_sizes


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
    sizes = parse_sizes(args.sizes) if args.sizes is not None else None
    try:
        for rec in measure_curve(config, args.data, sizes, args.seeds, stop=stop, home=home, name=args.name):
            if rec["kind"] == "point":
                err(
                    f"[{rec['index'] + 1}/{rec['total']}] {rec['size']:,} images, seed {rec['seed'] + 1}: "
                    f"val error {rec['val_error']:.2%} (acc {rec['val_acc']:.2%}), {rec['epochs']} epochs, "
                    f"{rec['seconds']:.1f} s"
                )
            elif rec["kind"] == "progress" and rec["index"] == 0 and rec["size"] is None:
                err(rec["text"])
            elif rec["kind"] == "curve":
                final = rec
    except KeyboardInterrupt:
        stop.set()  # nothing is saved before the last record, so no half-written curve remains
        raise
    if final is None or final["fit"] is None:
        raise CliError(final["message"] if final else "the measurement ended without a curve")
    err(final["text"])
    fit = Fit.from_dict(final["fit"])
    est = target_estimate(fit, args.target, final["n_train"])
    print_json(
        {
            "curve": final["id"],
            "path": final["path"],
            "status": final["status"],
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
            "sentence": estimate_sentence(fit, args.target, final["n_train"], config),
            "honesty": final["honesty"],
            "elapsed_s": final["elapsed"],
        }
    )
    return 0
