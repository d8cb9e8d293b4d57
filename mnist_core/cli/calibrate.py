"""`calibrate RUN`: fit and save a run's temperature on its validation set; prints ECE and NLL before/after as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import add_run_command, print_json


def add_parser(sub: Any) -> None:
    """`python -m mnist_core calibrate RUN [--bins 15] [--dry-run]`."""
    from mnist_core.evaluation.calibration.scaling import N_BINS

    p = add_run_command(
        sub,
        "calibrate",
        "fit and save a run's temperature on its validation set; prints ECE and NLL before/after as JSON",
    )
    p.add_argument("--bins", type=int, default=N_BINS, help=f"confidence bins for the ECE (default {N_BINS})")
    p.add_argument("--dry-run", action="store_true", help="report the fit without saving it")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.evaluation.calibration.saved import calibrate_run, run_threshold, threshold_is_stale
    from mnist_core.evaluation.calibration.scaling import CalibrationError
    from mnist_core.runs.storage import load_run

    if not 2 <= args.bins <= 100:
        raise CalibrationError(f"--bins must be between 2 and 100, got {args.bins}.")
    run = load_run(args.run)
    report = calibrate_run(run, n_bins=args.bins, save=not args.dry_run)
    out = {"run": str(run.path), **report.summary(), "bins": args.bins, "saved": not args.dry_run}
    if run_threshold(run) is not None:
        out["unsure_threshold"] = run_threshold(run)
        out["threshold_stale"] = threshold_is_stale(run)
    print_json(out)
    return 0
