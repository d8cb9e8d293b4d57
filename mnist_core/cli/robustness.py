"""`robustness RUN`: accuracy as a run's validation images are perturbed; prints JSON (and keeps it with the run)."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import add_run_command, err, print_json


def add_parser(sub: Any) -> None:
    """`python -m mnist_core robustness RUN [--perturbation rotate ...] [--n 2000] [--compare RUN2]`."""
    from mnist_core.evaluation.robustness.measure import DEFAULT_N
    from mnist_core.evaluation.robustness.perturbations import ORDER

    p = add_run_command(
        sub,
        "robustness",
        "accuracy as the validation images are rotated, scaled, "
        "shifted, thickened, noised, blurred, inverted; prints JSON",
    )
    p.add_argument(
        "--perturbation",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these (default: all): " + ", ".join(ORDER),
    )
    p.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N,
        help=f"validation images to use (default {DEFAULT_N}, fewer if the set is smaller)",
    )
    p.add_argument("--compare", default=None, metavar="RUN2", help="a second run to compare with")
    p.add_argument("--no-save", action="store_true", help="do not keep the sweep in the run folder")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.evaluation.robustness.measure import sweep_run
    from mnist_core.evaluation.robustness.perturbations import ORDER, PERTURBATIONS, RobustnessError
    from mnist_core.evaluation.robustness.results import compare, weakest
    from mnist_core.evaluation.robustness.store import save_sweep
    from mnist_core.runs.storage import load_run

    def progress(name: str, done: int, total: int) -> None:
        err(f"{done}/{total} {PERTURBATIONS[name].label}")

    unknown = [p for p in args.perturbation or [] if p not in PERTURBATIONS]
    if unknown:  # checked here, not by argparse, so the error is one line like every other
        raise RobustnessError(f"Unknown perturbation {unknown[0]!r}: use one of {', '.join(ORDER)}.")
    if args.n < 1:
        raise RobustnessError(f"--n must be at least 1, got {args.n}.")
    run = load_run(args.run)
    other = load_run(args.compare) if args.compare else None  # all checked before the work
    result = sweep_run(run, args.perturbation, n=args.n, progress=progress)
    if not args.no_save and not args.perturbation:
        save_sweep(run, result)
    out: dict[str, Any] = {"run": str(run.path), **result.to_dict(), "weakest": weakest(result)}
    if other is not None:
        second = sweep_run(other, args.perturbation, n=args.n, progress=progress)
        out["compare"] = {
            "run": str(other.path),
            **second.to_dict(),
            "weakest": weakest(second),
            **compare(result, second),
        }
    print_json(out)
    return 0
